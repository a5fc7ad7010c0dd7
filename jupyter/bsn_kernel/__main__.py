"""`python3 -m bsn_kernel install [--user|--prefix P] [--bsn PATH]` installs the
kernel spec; `python3 -m bsn_kernel -f CONNECTION_FILE` is how Jupyter starts it."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "install":
    from .install import main

    sys.exit(main(sys.argv[2:]))
else:
    from ipykernel.kernelapp import IPKernelApp

    from .kernel import BsnKernel

    IPKernelApp.launch_instance(kernel_class=BsnKernel)
