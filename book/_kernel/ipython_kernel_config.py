# Configuration of the Jupyter kernels that execute the chapters (copied by `make` into
# .venv/etc/ipython/, where every IPython kernel of that environment reads it).
#
# ipykernel warns "Kernel is running over TCP without encryption" at every start. The
# kernels talk to the build over 127.0.0.1 on this machine only, so the warning says
# nothing a reader can act on, and it was printed 15 times per build. This filter drops
# that one message and leaves every other kernel log line alone.
import logging


class _NoTcpEncryptionWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "running over TCP without encryption" not in record.getMessage()


logging.getLogger("IPKernelApp").addFilter(_NoTcpEncryptionWarning())
