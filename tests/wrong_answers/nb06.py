"""Wrong answers to notebook 06's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

TRAIN = '''
def train_invariant_model(train_set, seed):
    """A model trained from scratch on the upright digits of train_set, >= 80 % at each of the four rotations."""
{body}
'''

CHOOSE = '''
def choose_variant(results):
    """The variant to deploy: chosen as this notebook chooses, never on test scores."""
{body}
'''

SEEDS = '''
def seeds_needed(scores_a, scores_b, z=2):
    """The smallest n >= 2 seeds per variant for which |mean_b - mean_a| > z standard errors of the difference."""
    import statistics

    diff = abs(statistics.mean(scores_b) - statistics.mean(scores_a))
    n = 2
    while not diff > z * {se}:
        n += 1
    return n
'''

WRONG = {
    1: [
        ("forbidden shortcut: the shipped checkpoint", TRAIN.format(body='''\
    return load_pretrained("p4_cnn")''')),
        ("a plain CNN trained upright", TRAIN.format(body='''\
    from eqcourse.models import SimpleCNN

    set_seed(seed)
    model = SimpleCNN()
    train(model, train_set, Protocol(epochs=3, lr=5e-3, seed=seed))
    return model.eval()''')),
        ("a plain CNN with rotation augmentation", TRAIN.format(body='''\
    from eqcourse.models import SimpleCNN

    set_seed(seed)
    model = SimpleCNN()
    train(model, train_set, Protocol(epochs=3, lr=5e-3, seed=seed, augment="rot90"))
    return model.eval()''')),
        ("an invariant network never trained", TRAIN.format(body='''\
    set_seed(seed)
    return GroupCNN(C4, channels=(4, 6, 9)).eval()''')),
        ("the model built before the seed is set", TRAIN.format(body='''\
    model = GroupCNN(C4, channels=(4, 6, 9))
    train(model, train_set, Protocol(epochs=3, lr=5e-3, seed=seed))
    return model.eval()''')),
        ("the seed ignored (always 0)", TRAIN.format(body='''\
    set_seed(0)
    model = GroupCNN(C4, channels=(4, 6, 9))
    train(model, train_set, Protocol(epochs=3, lr=5e-3, seed=0))
    return model.eval()''')),
        ("the notebook's loaded P4CNN fine-tuned", TRAIN.format(body='''\
    set_seed(seed)
    model = copy.deepcopy(p4)
    train(model, train_set, Protocol(epochs=1, lr=1e-4, seed=seed))
    return model.eval()''')),
    ],
    2: [
        ("chosen by the test scores", CHOOSE.format(body='''\
    def test_mean(name):
        return sum(results[name]["test_accuracy"]) / len(results[name]["test_accuracy"])

    return max(results, key=test_mean)''')),
        ("chosen by the best single seed", CHOOSE.format(body='''\
    return max(results, key=lambda name: max(results[name]["validation_accuracy"]))''')),
        ("chosen by the first seed", CHOOSE.format(body='''\
    return max(results, key=lambda name: results[name]["validation_accuracy"][0])''')),
        ("chosen by the median over seeds", CHOOSE.format(body='''\
    import statistics

    return max(results, key=lambda name: statistics.median(results[name]["validation_accuracy"]))''')),
    ],
    3: [
        ("population standard deviations (divided by n, not n - 1)",
         SEEDS.format(se="math.sqrt((statistics.pvariance(scores_a) + statistics.pvariance(scores_b)) / n)")),
        ("standard deviations added instead of variances",
         SEEDS.format(se="(statistics.stdev(scores_a) + statistics.stdev(scores_b)) / math.sqrt(n)")),
        ("the standard error shrinking like 1/n, not 1/sqrt(n)",
         SEEDS.format(se="math.sqrt(statistics.variance(scores_a) + statistics.variance(scores_b)) / n")),
        ("the spread of one variant only",
         SEEDS.format(se="math.sqrt(statistics.variance(scores_a) / n)")),
        ("both variants' seeds counted together (2n)",
         SEEDS.format(se="math.sqrt((statistics.variance(scores_a) + statistics.variance(scores_b)) / (2 * n))")),
    ],
}
