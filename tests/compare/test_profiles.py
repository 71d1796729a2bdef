"""Traffic profiles: shapes, arrival counts and rates, traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compare.profiles import Profile, Segment, diurnal, read_trace_csv, seed_ramp, spike, steady


def test_seed_ramp_is_the_tutorials_ramp() -> None:
    profile = seed_ramp()
    assert [s.rate_per_s for s in profile.segments] == [50, 200, 500, 200, 50]
    assert all(s.duration_s == 600 for s in profile.segments)


def test_arrival_rate_per_segment_matches_the_profile() -> None:
    profile = Profile("two", (Segment(200, 20.0), Segment(200, 100.0)))
    arrivals = profile.arrivals(seed=3)
    assert np.all(np.diff(arrivals) >= 0)
    first, second = np.sum(arrivals < 200), np.sum(arrivals >= 200)
    # Poisson counts: within 4 standard deviations of the mean.
    assert abs(first - 4000) < 4 * np.sqrt(4000)
    assert abs(second - 20000) < 4 * np.sqrt(20000)


def test_gaps_of_a_steady_profile_are_exponential() -> None:
    gaps = np.diff(steady(50.0, 2000).arrivals(seed=1))
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.02)
    assert gaps.std() == pytest.approx(1 / 50, rel=0.03)  # exponential: std equals the mean


def test_same_seed_same_arrivals_other_seed_others() -> None:
    profile = steady(10.0, 100)
    assert np.array_equal(profile.arrivals(seed=5), profile.arrivals(seed=5))
    assert not np.array_equal(profile.arrivals(seed=5), profile.arrivals(seed=6))


def test_spike_is_ten_times_for_a_few_minutes() -> None:
    profile = spike(base_rate=40.0)
    assert profile.rate_at(10) == 40.0
    assert profile.rate_at(600 + 60) == 400.0
    assert profile.rate_at(600 + 180 + 1) == 40.0


def test_diurnal_peaks_in_the_afternoon_and_scales_to_a_peak() -> None:
    profile = diurnal(peak_rate=100.0).to_peak(300.0)
    assert profile.duration_s == 24 * 3600
    assert profile.peak_rate == pytest.approx(300.0)
    # trough_fraction 0.1: the 04:00 trough is a tenth of the 16:00 peak (up to the 5-minute steps)
    assert profile.rate_at(4 * 3600) == pytest.approx(profile.rate_at(16 * 3600) / 10, rel=0.01)


def test_azure_trace_format_is_summed_per_minute(tmp_path: Path) -> None:
    trace = tmp_path / "azure.csv"
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m) for m in range(1, 4))
    trace.write_text(header + "\na,b,c,http,60,120,0\nd,e,f,timer,60,0,6\n")
    profile = read_trace_csv(trace)
    assert [s.rate_per_s for s in profile.segments] == [2.0, 2.0, 0.1]


def test_single_column_trace_and_bad_values(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("invocations\n60\n600\n")
    assert [s.rate_per_s for s in read_trace_csv(plain).segments] == [1.0, 10.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("60\nlots\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: not a count"):
        read_trace_csv(bad)


def test_invalid_segments_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        Segment(10, -1)
    with pytest.raises(ValueError, match="duration"):
        Segment(0, 1)
