#!/usr/bin/python3
# The test's hands inside a VM: runs each shell script the host sends over the
# virtio serial port wgqt.control and answers with its exit code and output.
# One line each way, fields separated by spaces, payloads in base64 (the
# minimal Python of the image has no json):
#   host:  <id> <script>
#   guest: <id> <exit code> <stdout> <stderr>
import base64
import os
import subprocess
import time

PORT = "/dev/virtio-ports/wgqt.control"

while not os.path.exists(PORT):
    time.sleep(0.2)
fd = os.open(PORT, os.O_RDWR)


def send(data):
    while data:
        data = data[os.write(fd, data):]


pending = b""
while True:
    chunk = os.read(fd, 65536)
    if not chunk:
        # No host connected: the port reads end of file until one is.
        time.sleep(0.1)
        continue
    pending += chunk
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        ident, script = line.split(b" ", 1)
        done = subprocess.run(
            ["/bin/bash", "-c", base64.b64decode(script)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        fields = [ident, str(done.returncode).encode()]
        fields += [base64.b64encode(done.stdout), base64.b64encode(done.stderr)]
        send(b" ".join(fields) + b"\n")
