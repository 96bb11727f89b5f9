"""The heap trimmer gives back what a burst freed, once the burst is over, and only then."""

from collections.abc import Callable

import pytest

from controller.heaptrim import GROWTH, HeapTrimmer, glibc_trim, resident_bytes

MB = 1 << 20
K = 1000


def looking_at(sizes: list[tuple[int, int]], trim: Callable[[], object] = pytest.fail) -> HeapTrimmer:
    """A trimmer shown these (resident MB, objects alive) in turn; a trim reads the size once more."""
    seen = iter(sizes)
    current = [0, 0]

    def resident() -> int:
        current[:] = next(seen)
        return current[0] * MB

    trimmer = HeapTrimmer(trim, resident=resident, objects=lambda: current[1])
    return trimmer


def test_a_steady_process_is_never_trimmed() -> None:
    trimmer = looking_at([(60, 200 * K + (i % 3) * K) for i in range(20)])
    assert not any(trimmer.check() for _ in range(20))


def test_a_burst_is_trimmed_once_when_its_objects_are_gone() -> None:
    trims: list[int] = []
    trimmer = looking_at([(60, 200 * K), (80, 260 * K), (90, 300 * K), (90, 300 * K), (91, 210 * K), (76, 210 * K),
                             (76, 205 * K), (77, 200 * K)], trim=lambda: trims.append(1))
    assert [trimmer.check() for _ in range(7)] == [False, False, False, False, True, False, False]
    assert trims == [1]


def test_no_trim_while_the_load_still_grows() -> None:
    trimmer = looking_at([(60 + 4 * step, 200 * K + 30 * K * step) for step in range(30)])
    assert not any(trimmer.check() for _ in range(30))


def test_growth_under_the_threshold_is_left_alone() -> None:
    grown = 60 + GROWTH // MB - 1
    trimmer = looking_at([(60, 200 * K), (grown, 300 * K), (grown, 200 * K), (60, 200 * K)])
    assert not any(trimmer.check() for _ in range(4))


@pytest.mark.skipif(glibc_trim() is None, reason="no glibc malloc_trim here")
def test_a_real_trim_gives_back_memory_freed_in_the_middle_of_the_heap() -> None:
    """Blocks of 8 KB come from the heap (under the mmap threshold); survivors between them
    keep the heap's top in use, so without a trim nothing of the 80 MB freed is given back."""
    blocks, survivors = [], []
    for i in range(10_000):
        blocks.append(bytes(8192 - 64) + i.to_bytes(4, "big"))
        survivors.append(bytes(600) + i.to_bytes(4, "big"))
    peak = resident_bytes()
    del blocks
    freed = resident_bytes()
    alive = iter([100_000, 50_000])
    trimmer = HeapTrimmer(glibc_trim() or pytest.fail, objects=lambda: next(alive), growth=0)
    assert not trimmer.check()
    assert trimmer.check()
    after = resident_bytes()
    assert freed > peak - 20 * MB, "freed heap was given back without a trim (nothing to show here)"
    assert after < freed - 40 * MB
    assert len(survivors) == 10_000
