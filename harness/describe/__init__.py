"""What `smd describe` and `smd plot` show besides the SMD text (the commands themselves are
`harness.cli`'s): the built-in synthetic demo motion (`demo_motion`) and the figure of the most active
angle curves, their segments and the trajectory (`plot`; matplotlib is the caller's).
"""

from .demo_motion import demo_angles, demo_motion
from .plot import SEGMENT_COLOURS, plot_analysis

__all__ = ["SEGMENT_COLOURS", "demo_angles", "demo_motion", "plot_analysis"]
