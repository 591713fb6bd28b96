"""The SMD of the demo's action library read back (smd.readback) against the measured angles."""

import numpy as np

import smd
from smd.readback import angle_errors


def test_the_demo_library_reads_back_within_the_targets():
    """50 motions of the demo's action library, v5 (measured on 60: median 0.84°, 90th percentile
    3.68°, one curve of 1,554 at 10.07°: a synthetic throw whose arm jumps 100° between two frames)."""
    from harness.demo.compose import random_motion, sample_motion

    errors = []
    for seed in range(50):
        analysis = smd.analyze(sample_motion(random_motion(np.random.default_rng(seed)), 20.0))
        errors += angle_errors(smd.render(analysis, "v5"), analysis.angles).values()
    errors = np.array(errors)
    assert np.median(errors) <= 2.5 and np.percentile(errors, 90) <= 5.0
    assert (errors > 10.0).mean() <= 0.002
