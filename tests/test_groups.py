import itertools

import pytest
import torch

from eqcourse.groups import C4, D4

GROUPS = [C4, D4]


@pytest.mark.parametrize("G", GROUPS, ids=str)
def test_axioms(G):
    els = G.elements
    for g, h in itertools.product(els, els):
        assert G.compose(g, h) in els  # closure
    for g, h, k in itertools.product(els, els, els):
        assert G.compose(G.compose(g, h), k) == G.compose(g, G.compose(h, k))
    for g in els:
        assert G.compose(G.identity, g) == g == G.compose(g, G.identity)
        assert G.compose(g, G.inverse(g)) == G.identity == G.compose(G.inverse(g), g)


@pytest.mark.parametrize("G", GROUPS, ids=str)
def test_cayley_table_is_a_latin_square(G):
    table = G.cayley_table()
    assert table.shape == (G.order, G.order)
    for row in list(table) + list(table.T):
        assert sorted(row.tolist()) == G.elements


def test_c4_is_abelian_and_d4_is_not():
    assert torch.equal(C4.cayley_table(), C4.cayley_table().T)
    assert not torch.equal(D4.cayley_table(), D4.cayley_table().T)


def test_c4_names_and_rotate():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    assert torch.equal(C4.act_on_image(1, x), torch.rot90(x, 1, dims=(-2, -1)))
    assert C4.compose(3, 2) == 1 and C4.inverse(1) == 3
    assert [C4.element_name(g) for g in C4.elements] == ["r0", "r1", "r2", "r3"]


@pytest.mark.parametrize("G", GROUPS, ids=str)
def test_action_on_images_is_a_homomorphism(G):
    x = torch.randn(2, 3, 5, 5)
    for g, h in itertools.product(G.elements, G.elements):
        lhs = G.act_on_image(g, G.act_on_image(h, x))
        assert torch.equal(lhs, G.act_on_image(G.compose(g, h), x)), (g, h)


@pytest.mark.parametrize("G", GROUPS, ids=str)
def test_action_on_group_maps_is_a_homomorphism(G):
    x = torch.randn(2, 3, G.order, 5, 5)
    for g, h in itertools.product(G.elements, G.elements):
        lhs = G.act_on_group_map(g, G.act_on_group_map(h, x))
        assert torch.equal(lhs, G.act_on_group_map(G.compose(g, h), x)), (g, h)


def test_c4_on_group_maps_rotates_space_and_rolls_the_group_axis():
    x = torch.randn(1, 2, 4, 5, 5)
    for k in range(4):
        expected = torch.rot90(torch.roll(x, k, dims=2), k, dims=(-2, -1))
        assert torch.equal(C4.act_on_group_map(k, x), expected)


def test_d4_flip_reverses_rotation():
    f, r = D4.element(0, flip=True), D4.element(1)
    assert D4.compose(D4.compose(f, r), f) == D4.inverse(r)


def test_orbit_stacks_the_copies_on_dim_2():
    x = torch.randn(2, 1, 4, 4)
    stack = C4.orbit(x)
    assert stack.shape == (2, 1, 4, 4, 4)
    for k in range(4):
        assert torch.equal(stack[:, :, k], torch.rot90(x, k, dims=(-2, -1)))


def test_bad_elements_and_shapes_are_rejected():
    with pytest.raises(ValueError, match="elements 0..3"):
        C4.compose(4, 0)
    with pytest.raises(ValueError, match="square"):
        C4.act_on_image(1, torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match=r"\(B, C, 4, H, W\)"):
        C4.act_on_group_map(1, torch.zeros(1, 2, 3, 4, 4))
    with pytest.raises(ValueError, match="only C4"):
        type(C4)(6)
