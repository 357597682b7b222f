"""Unit factors to metric, shared by the v2.0 and V3 parsers and the simulator."""

KM_PER_MILE = 1.609344
L_PER_GALLON = 3.785411784
KPA_PER_PSI = 6.894757
