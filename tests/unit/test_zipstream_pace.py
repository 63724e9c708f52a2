"""Push's choice of deflate level, driven by synthetic rates and a fake clock: dense compression on a slow link
as long as the CPU keeps it ahead, fast on a fast one, and no flipping between them as the figures move."""

from __future__ import annotations

from dataclasses import dataclass, field

from nsclient.transfer import pace
from nsclient.transfer.pace import Pace, Rates, choose_dense

MIB = 1024 * 1024


def rates(speed_mib: float, ratio: float) -> Rates:
    """A level's figures: raw MiB a second of one worker, compressed bytes per raw byte."""
    measured = Rates()
    measured.add(MIB, int(MIB * ratio), 1 / speed_mib, now=0.0)
    return measured


# FASTA of one pathogen as measured on the benchmark's data: ISA-L level 1 at 440 MiB/s to 0.31,
# zlib level 9 at 29 MiB/s to 0.025 (it finds the near-copies the fast level misses).
FAST, DENSE = rates(440, 0.31), rates(29, 0.025)


def test_a_slow_link_takes_the_dense_level_the_cpu_keeps_ahead_of_it() -> None:
    # 20 Mbit/s: the fast level moves 2.4 / 0.31 = 7.7 MiB/s of the build, the dense one all 58 its
    # two workers make (the link would carry 96 at its ratio).
    assert choose_dense(False, FAST, DENSE, workers=2, link=2.4 * MIB, lagging=True)
    assert choose_dense(True, FAST, DENSE, workers=2, link=2.4 * MIB, lagging=False)
    # 100 Mbit/s: 37 against 58, still dense.
    assert choose_dense(False, FAST, DENSE, workers=2, link=11.5 * MIB, lagging=True)


def test_a_fast_link_keeps_the_fast_level_the_cpu_is_what_is_slow() -> None:
    # Loopback (the server takes 100 MiB/s): 320 MiB/s of the build at the fast level, 58 at the dense.
    assert not choose_dense(False, FAST, DENSE, workers=2, link=100 * MIB, lagging=True)
    assert not choose_dense(True, FAST, DENSE, workers=2, link=100 * MIB, lagging=True)
    # A busy machine (the dense level at a third of its speed) moves the break-even lower.
    assert not choose_dense(True, FAST, rates(10, 0.025), workers=2, link=11.5 * MIB, lagging=True)


def test_data_the_long_search_does_not_shrink_stays_fast() -> None:
    tables = rates(5, 0.27)  # zlib 9 on TSV: slow, and hardly smaller than ISA-L's 0.32
    assert not choose_dense(False, rates(460, 0.32), tables, workers=2, link=11.5 * MIB, lagging=True)


def test_close_figures_keep_the_level_in_use_either_way() -> None:
    # Within HYSTERESIS of each other: neither level is clearly better, so whichever is in use stays.
    link = 2.4 * MIB
    fast = rates(460, 0.32)  # 7.5 MiB/s of the build through the link
    dense = rates(4.1, 0.27)  # 8.2 MiB/s on two workers: 9 % more
    assert choose_dense(True, fast, dense, workers=2, link=link, lagging=True)
    assert not choose_dense(False, fast, dense, workers=2, link=link, lagging=True)
    much_better = rates(6, 0.2)  # 12 MiB/s (on two workers, and through the link): 60 % more
    assert choose_dense(False, fast, much_better, workers=2, link=link, lagging=True)


def test_until_the_link_is_measured_unsent_bytes_decide_and_until_both_levels_are_the_level_stays() -> None:
    assert choose_dense(False, FAST, DENSE, workers=2, link=None, lagging=True)
    assert not choose_dense(True, FAST, DENSE, workers=2, link=None, lagging=False)
    unmeasured = Rates()
    assert not choose_dense(False, FAST, unmeasured, workers=2, link=2 * MIB, lagging=True)
    assert choose_dense(True, unmeasured, DENSE, workers=2, link=100 * MIB, lagging=True)
    small = Rates()
    small.add(2_000, 800, 0.001, now=0.0)  # one small file tells nothing yet
    assert not small.measured


@dataclass
class Upload:
    """An upload on a link of `rate` bytes a second, moved on by hand with a fake clock."""

    rate: float
    now: float = 0.0
    written: int = 0
    sent_bytes: float = 0.0
    dense_chunks: list[bool] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def sent(self) -> int:
        return int(self.sent_bytes)

    def unsent(self) -> int:
        return self.written - int(self.sent_bytes)

    def run(self, paced: Pace, chunks: int, workers: int, speeds: dict[bool, tuple[float, float]]) -> None:
        """Compress `chunks` MiB chunks of one content (`speeds`: per level, MiB a second of a worker and
        ratio) on `workers` workers, handing each to the link, which takes what it can meanwhile."""
        for _ in range(chunks):
            dense = paced.next_dense()
            speed, ratio = speeds[dense]
            seconds = 1 / speed
            self.now += seconds / workers
            self.sent_bytes = min(self.written, self.sent_bytes + self.rate * seconds / workers)
            paced.compressed(dense, MIB, int(MIB * ratio), seconds)
            self.written += int(MIB * ratio)
            self.dense_chunks.append(dense)
            self.times.append(self.now)

    def after(self, seconds: float) -> list[bool]:
        """The levels of the chunks compressed after `seconds`."""
        return [dense for dense, at in zip(self.dense_chunks, self.times, strict=True) if at > seconds]


FASTA = {False: (440.0, 0.31), True: (29.0, 0.025)}


def paced_upload(rate_mib: float) -> tuple[Pace, Upload]:
    upload = Upload(rate_mib * MIB)
    return Pace(workers=2, sent=upload.sent, unsent=upload.unsent, clock=lambda: upload.now), upload


def switches(choices: list[bool]) -> int:
    return sum(1 for before, after in zip(choices, choices[1:], strict=False) if before != after)


def test_a_slow_link_settles_on_the_dense_level_and_stays_there() -> None:
    paced, upload = paced_upload(2.4)
    upload.run(paced, 400, workers=2, speeds=FASTA)
    settled = upload.after(1.0)  # the link measured
    assert paced.dense
    # Dense the whole way but for a chunk every few seconds measuring the fast level again.
    fast_chunks = settled.count(False)
    assert 0 < fast_chunks <= upload.now / pace.REMEASURE[False] + 1
    assert switches(settled) <= 2 * fast_chunks
    # The writer waits on the compressors now, and the link takes less than it could: its capacity is
    # still the one it showed while bytes waited for it.
    assert upload.unsent() < pace.LAGGING
    assert paced.link is not None
    assert paced.link > 2 * MIB


def test_a_fast_link_settles_on_the_fast_level_measuring_the_dense_one_now_and_then() -> None:
    paced, upload = paced_upload(100)
    upload.run(paced, 4000, workers=2, speeds=FASTA)
    settled = upload.after(1.0)  # the link measured
    assert not paced.dense
    assert 0 < settled.count(True) <= upload.now / pace.REMEASURE[True] + 1


def test_new_content_is_judged_on_its_own_figures() -> None:
    # Small tables first (the dense level slow and no smaller), then sequences: at 100 Mbit/s the
    # tables go fast, the sequences dense, once a chunk has measured the dense level on them.
    paced, upload = paced_upload(11.5)
    upload.run(paced, 300, workers=2, speeds={False: (460.0, 0.32), True: (5.0, 0.27)})
    assert not paced.dense
    upload.run(paced, 2000, workers=2, speeds=FASTA)
    assert paced.dense
    assert upload.dense_chunks[-300:].count(True) > 290


def test_a_zip_written_to_a_file_is_compressed_fast() -> None:
    assert not Pace(workers=2).next_dense()
