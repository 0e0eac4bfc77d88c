"""Which services of a rendered Compose project can start on this machine.

Reads `docker compose config --format json` on stdin and the local image references (one per
line) from the file named by argv[1]. Prints the runnable services, one per line, on stdout: a
service is runnable when its image is present locally and every service it depends on is
runnable. Prints each skipped service and the reason on stderr. (No registry is reachable here, so
an image that is not present cannot be pulled.)
"""
import json
import sys


def main():
    config = json.load(sys.stdin)
    with open(sys.argv[1]) as f:
        local = {line.strip() for line in f if line.strip()}
    services = config.get("services", {})
    runnable = {}

    def check(name, seen=()):
        if name in runnable:
            return runnable[name]
        service = services[name]
        image = service.get("image", "")
        if image not in local and f"docker.io/library/{image}" not in local:
            runnable[name] = f"image {image} is not present, and no registry is reachable here (the local images: e2e/docker.sh images)"
            return runnable[name]
        for dep in service.get("depends_on", {}):
            if dep in seen or dep not in services:
                continue
            if check(dep, seen + (name,)) is not None:
                runnable[name] = f"depends on {dep}, which cannot start"
                return runnable[name]
        runnable[name] = None
        return None

    for name in sorted(services):
        reason = check(name)
        if reason is None:
            print(name)
        else:
            print(f"skipping {name}: {reason}", file=sys.stderr)


main()
