"""A user-space network conditioner: shape a TCP link like Apple's Network Link Conditioner.

`python -m ops.netcond --listen 127.0.0.1:9000 --target 127.0.0.1:8000 --profile lte`
"""

from ops.netcond.profiles import PRESETS, Direction, Profile, ProfileError, get_profile
from ops.netcond.proxy import Conditioner, ConditionerStats, LinkReset

__all__ = [
    "PRESETS",
    "Conditioner",
    "ConditionerStats",
    "Direction",
    "LinkReset",
    "Profile",
    "ProfileError",
    "get_profile",
]
