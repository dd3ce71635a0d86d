"""Feedback without hidden tests: each test cell keeps its name, score and message, not its hidden code.

nbgrader 0.9.6 builds feedback from the autograded notebook, in which every test cell holds its full
source (hidden tests included, restored from the gradebook) and full tracebacks (which quote the
failing lines, hidden ones too, also in the output of a student's cell that calls a test helper).
`HideTests`, added to GenerateFeedback's preprocessors, removes each hidden-test region from the
test cells (leaving a line that says so) and cuts every error in the notebook to `ErrorName: message`.
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

HIDDEN = "# (hidden tests: their code is not shown in feedback)"


class HideTests(ClearHiddenTests):
    """ClearHiddenTests for feedback: hidden regions of test cells removed, every traceback cut to its last line."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        if utils.is_grade(cell) and not utils.is_solution(cell) and self._remove_hidden_test_region(cell):
            cell.source = cell.source.rstrip("\n") + "\n" + HIDDEN
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
