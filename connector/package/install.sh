#!/bin/sh
# Installs (or upgrades) psm-connector from its unpacked package: copies it to a prefix, creates the service's
# own system account and state directory, writes the systemd unit. Touches nothing else: no package manager,
# no network, no file outside the prefix, the state directory, the unit and the one command link.
#   tar xzf psm-connector-<version>.tgz && sudo ./package/install.sh [options]
set -eu

usage() {
  cat <<'USAGE'
usage: install.sh [--prefix DIR] [--user NAME] [--state DIR] [--node PATH] [--bin-dir DIR] [--no-systemd]
  --prefix DIR   where the package goes (default /opt/psm-connector); replaced as a whole on upgrade
  --user NAME    the service's system account, created if missing (default psm-connector; root opts out)
  --state DIR    the connector's state directory, created 0700 for the account (default /var/lib/psm-connector)
  --node PATH    the Node.js (>= 20.19) that runs it (default: node on PATH)
  --bin-dir DIR  where the psm-connector command is linked (default /usr/local/bin)
  --no-systemd   write no unit and no link: only the prefix, the account and the state directory
USAGE
}

prefix=/opt/psm-connector
user=psm-connector
state=/var/lib/psm-connector
node=
bin_dir=/usr/local/bin
systemd=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --user) user=${2:?--user needs an account name}; shift 2 ;;
    --state) state=${2:?--state needs a directory}; shift 2 ;;
    --node) node=${2:?--node needs a path}; shift 2 ;;
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
    --no-systemd) systemd=no; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

fail() { echo "install.sh: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/dist/psm-connector.mjs" ] || fail "run me from the unpacked package (dist/psm-connector.mjs is missing)"
[ "$(id -u)" = 0 ] || fail "run as root: it creates an account and writes $prefix"
# Paths go into the unit unquoted (systemd) and into a shell wrapper: plain absolute paths only.
for path in "$prefix" "$state" "$bin_dir"; do
  case "$path" in
    /*) ;;
    *) fail "$path: an absolute path is needed" ;;
  esac
  case "$path" in
    *[!A-Za-z0-9_./-]*) fail "$path: only letters, digits and _ . / - are allowed" ;;
  esac
done
case "$prefix" in
  / | /usr | /usr/local | /opt | /etc | /var) fail "$prefix: give the package its own directory" ;;
esac
echo "$user" | grep -Eq '^[a-z_][a-z0-9_-]{0,31}$' || fail "--user must be a plain account name"

[ -n "$node" ] || node=$(command -v node) || fail "node is not on PATH: install Node.js 20 (>= 20.19) or give --node"
case "$node" in /*) ;; *) fail "--node must be an absolute path" ;; esac
"$node" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  fail "$node is Node.js $("$node" -v); psm-connector needs >= 20.19"

# An existing prefix is replaced only when it holds this package (an upgrade), never another program.
if [ -e "$prefix" ] && ! grep -q '"name": "psm-connector"' "$prefix/package.json" 2>/dev/null; then
  [ -z "$(ls -A "$prefix")" ] || fail "$prefix exists and is not a psm-connector install: refusing to replace it"
fi
new="$prefix.new.$$"
rm -rf "$new"
mkdir -p "$new"
cp -R "$here/dist" "$here/node_modules" "$here/package.json" "$here/psm-connector.service.in" "$new/"
[ ! -f "$here/README.md" ] || cp "$here/README.md" "$new/"
mkdir "$new/bin"
# The command runs the Node.js checked above, whatever PATH says later.
printf '#!/bin/sh\nexec %s %s/dist/psm-connector.mjs "$@"\n' "$node" "$prefix" >"$new/bin/psm-connector"
chown -R 0:0 "$new"
chmod -R u=rwX,go=rX "$new"
chmod 0755 "$new/bin/psm-connector" "$new/dist/psm-connector.mjs" "$new/dist/psm-rdp-bridge"
if [ -e "$prefix" ]; then
  rm -rf "$prefix.old"
  mv "$prefix" "$prefix.old"
  mv "$new" "$prefix"
  rm -rf "$prefix.old"
else
  mkdir -p "$(dirname "$prefix")"
  mv "$new" "$prefix"
fi
# The RDP bridge is prebuilt against Debian 12's FreeRDP 2: it needs those shared libraries (not the -dev
# packages, no compiler). Without them SSH works and RDP sessions cannot start: say so, install nothing.
if command -v ldd >/dev/null 2>&1 && ldd "$prefix/dist/psm-rdp-bridge" 2>/dev/null | grep -q 'not found'; then
  echo "warning: RDP will not work until the bridge's libraries are installed:" \
    "apt-get install libfreerdp2-2 libfreerdp-client2-2 libwinpr2-2 libpng16-16 libjpeg62-turbo libwebp7 libssl3" >&2
fi
echo "installed $("$node" -e 'console.log(require(process.argv[1]).version)' "$prefix/package.json") in $prefix"

# The service's account: a system user with no shell and no home; it alone owns the state directory.
if [ "$user" != root ]; then
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    echo "created the system account $user"
  fi
fi
mkdir -p "$state"
chown "$user:$(id -gn "$user")" "$state"
chmod 0700 "$state"

enrolled=no
[ ! -f "$state/connector.json" ] || enrolled=yes
as_user() { [ "$user" = root ] && echo "$*" || echo "runuser -u $user -- $*"; }
enroll="$(as_user "$prefix/bin/psm-connector enroll --url <edge url> --token <token> --state $state")"

if [ "$systemd" = no ]; then
  [ "$enrolled" = yes ] || echo "next: $enroll; then run: $(as_user "$prefix/bin/psm-connector run --state $state")"
  exit 0
fi

ln -sfn "$prefix/bin/psm-connector" "$bin_dir/psm-connector"
unit=/etc/systemd/system/psm-connector.service
sed -e "s|@NODE@|$node|g" -e "s|@PREFIX@|$prefix|g" -e "s|/var/lib/psm-connector|$state|g" \
  -e "s|^User=psm-connector\$|User=$user|" -e "s|^Group=psm-connector\$|Group=$(id -gn "$user")|" \
  "$prefix/psm-connector.service.in" >"$unit.new"
if [ "$user" = root ]; then sed -i -e '/^User=/d' -e '/^Group=/d' "$unit.new"; fi
# StateDirectory= names /var/lib/psm-connector; another state directory is made above and kept writable by
# ReadWritePaths= alone.
[ "$state" = /var/lib/psm-connector ] || sed -i -e '/^StateDirectory/d' "$unit.new"
chmod 0644 "$unit.new"
mv "$unit.new" "$unit"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$enrolled" = yes ]; then
    systemctl enable psm-connector.service
    systemctl restart psm-connector.service
    echo "restarted psm-connector.service"
  else
    echo "next: $enroll; then: systemctl enable --now psm-connector.service"
  fi
else
  echo "wrote $unit; systemd is not running here: start $(as_user "$prefix/bin/psm-connector run --state $state") yourself"
fi
