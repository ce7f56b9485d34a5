#!/usr/bin/env bash
# Builds the test and benchmark image from Debian's busybox-static, the way users build
# images: an OCI layout with umoci, a docker-save archive with skopeo, and an unpacked
# rootfs for OCI bundles. Idempotent; a lock keeps parallel callers from building twice.
#   tools/busybox-image.sh DIR  →  DIR/layout, DIR/archive.tar, DIR/bundle/rootfs
set -euo pipefail
out=$1
mkdir -p "$out"
exec 9>"$out/lock"
flock 9
cd "$out"
[ -f ready ] && exit 0
rm -rf work && mkdir work && cd work
umoci init --layout busybox
umoci new --image busybox:latest
umoci unpack --image busybox:latest bundle >/dev/null
mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/tmp bundle/rootfs/home/app
cp /bin/busybox bundle/rootfs/bin/busybox
for applet in sh ls cat echo hostname mount id sleep true false ps seq head tail wget httpd nc mkdir stat touch chown readlink grep wc env; do
    ln -s busybox "bundle/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' > bundle/rootfs/etc/passwd
printf 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n' > bundle/rootfs/etc/group
chown 1000:1000 bundle/rootfs/home/app
chmod 1777 bundle/rootfs/tmp
umoci repack --image busybox:latest bundle
umoci config --image busybox:latest --config.cmd /bin/sh --config.env PATH=/bin --config.workingdir /
skopeo copy --quiet oci:busybox:latest docker-archive:busybox.tar:nctest/busybox:latest
cd ..
rm -rf layout archive.tar bundle
mv work/busybox layout
mv work/busybox.tar archive.tar
mkdir bundle
mv work/bundle/rootfs bundle/rootfs
rm -rf work
touch ready
