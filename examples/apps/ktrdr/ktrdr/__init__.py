# The example stand-in for KTRDR's package (synced to /app/ktrdr by devstack dev).
