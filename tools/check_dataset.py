#!/usr/bin/env python
"""Check registered datasets before training (see ``df2s2_d2.data.check``):

python tools/check_dataset.py wider_face_train wider_face_val
python tools/check_dataset.py --config-file configs/WIDER-FACE/df2s2_R_50.yaml
"""

import sys

from df2s2_d2.data.check import main

if __name__ == "__main__":
    sys.exit(main())
