# Sourced by the install scripts: ensure_debs WHO PACKAGE... installs the Debian packages that are
# missing (apt-get update only then) and says so; prints one line when all are present.
# Sets ENSURE_DEBS_INSTALLED to the packages it installed.
ensure_debs() {
  local who=$1
  shift
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ENSURE_DEBS_INSTALLED=("${missing[@]}")
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$who: all present ($*)"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: must run as root to install ${missing[*]}" >&2
    return 1
  fi
  echo "$who: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
