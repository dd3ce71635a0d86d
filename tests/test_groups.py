import itertools

import pytest
import torch

from eqcourse.groups import C4, D4, CyclicGroup, DihedralGroup

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
    with pytest.raises(ValueError, match="positive integer"):
        CyclicGroup(0)
    with pytest.raises(ValueError, match="positive integer"):
        DihedralGroup(-2)


# --- C_N and D_N for any N ---------------------------------------------------------------

FINE = [CyclicGroup(n) for n in (1, 2, 3, 8, 16)] + [DihedralGroup(n) for n in (1, 3, 8)]


@pytest.mark.parametrize("G", FINE, ids=str)
def test_cn_and_dn_axioms(G):
    els = G.elements
    assert len(els) == G.order
    for g, h, k in itertools.product(els, els, els[:4]):
        assert G.compose(G.compose(g, h), k) == G.compose(g, G.compose(h, k))
    for g in els:
        assert G.compose(g, G.inverse(g)) == G.identity
    assert sorted(G.permutation(els[-1])) == els


def test_cyclic_group_4_is_c4_exactly():
    G = CyclicGroup(4)
    assert G.order == 4 and G.name == "C4" and G.exact
    x = torch.randn(2, 3, 4, 7, 7)
    for k in range(4):
        assert torch.equal(G.act_on_group_map(k, x), C4.act_on_group_map(k, x))
        assert G.degrees(k) == 90.0 * k


def test_quarter_turns_of_c8_and_c16_are_exact_rot90():
    x = torch.randn(2, 1, 6, 6)
    for n in (8, 16):
        G = CyclicGroup(n)
        assert not G.exact
        for q in range(4):
            assert torch.equal(G.transform(q * n // 4, x), torch.rot90(x, q, dims=(-2, -1)))


def test_interpolated_angles_turn_the_right_way():
    """Two eighth turns of a smooth blob land where one quarter turn (counter-clockwise) does."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij")
    blob = torch.exp(-((xx - 0.3) ** 2 + (yy + 0.2) ** 2) / 0.05)[None, None]
    C8 = CyclicGroup(8)
    twice = C8.transform(1, C8.transform(1, blob))
    assert (twice - torch.rot90(blob, 1, dims=(-2, -1))).abs().max() < 0.1
    assert (twice - torch.rot90(blob, -1, dims=(-2, -1))).abs().max() > 0.5
    # the same rotation as eqcourse.data.rotate_by_angle (the data's own rotation)
    from eqcourse.data import rotate_by_angle

    assert torch.allclose(CyclicGroup(3).transform(1, blob), rotate_by_angle(blob, 120.0), atol=1e-5)


def test_c8_is_only_approximately_a_homomorphism_by_the_measured_amount():
    """The figures in CyclicGroup's docstring: mean 0.67 on N(0, 1) 3x3 kernels, 0.34 on digits."""
    torch.manual_seed(0)
    C8 = CyclicGroup(8)
    w = torch.randn(1000, 1, 3, 3)
    err = (C8.transform(1, C8.transform(1, w)) - C8.transform(2, w)).abs().amax(dim=(1, 2, 3))
    mean = (err / w.abs().amax(dim=(1, 2, 3))).mean().item()
    assert 0.6 < mean < 0.75, mean
    from eqcourse.data import load_mnist

    digits = load_mnist("test", 200, seed=0).tensors[0]  # and 0.34 on MNIST digits
    err = (C8.transform(1, C8.transform(1, digits)) - C8.transform(2, digits)).abs().amax(dim=(1, 2, 3))
    mean = (err / digits.abs().amax(dim=(1, 2, 3))).mean().item()
    assert 0.28 < mean < 0.4, mean


def test_dihedral_n_flips_then_rotates():
    D8 = DihedralGroup(8)
    x = torch.randn(1, 1, 5, 5)
    f = D8.element(0, flip=True)
    assert torch.equal(D8.transform(f, x), torch.flip(x, dims=(-1,)))
    r2f = D8.element(2, flip=True)
    assert torch.equal(D8.transform(r2f, x), torch.rot90(torch.flip(x, dims=(-1,)), 1, dims=(-2, -1)))
    assert D8.angle_and_flip(r2f) == (90.0, True)


def test_groups_are_equal_when_they_act_alike_and_hash_alike():
    """C4 is CyclicGroup(4): same kind, same n. Isomorphic groups that act differently are not equal."""
    assert C4 == CyclicGroup(4) and D4 == DihedralGroup(4) and CyclicGroup(8) == CyclicGroup(8)
    assert hash(C4) == hash(CyclicGroup(4)) and hash(DihedralGroup(8)) == hash(DihedralGroup(8))
    assert len({C4, CyclicGroup(4), D4, DihedralGroup(4), CyclicGroup(8)}) == 3
    assert {C4: "p4"}[CyclicGroup(4)] == "p4"
    assert C4 != CyclicGroup(8) and C4 != DihedralGroup(2)  # D2 has order 4 too, but mirrors
    assert CyclicGroup(2) != DihedralGroup(1)  # both of order 2: a half turn and a mirror
    assert C4 != "C4" and C4 != 4
