// Shell functions the key scripts share on a node (run as root): refusals, and the checks of every directory on a path.

/** Exit code of a key script when a check failed before anything was written. */
export const EXIT_KEYS_REFUSED = 3;
/** Exit code of a key script when it failed part-way. */
export const EXIT_KEYS_FAILED = 4;

/**
 * `refuse` and `abort` print a `hive-keys:` line and exit 3 or 4. `check_path DIR UID WHAT`
 * walks DIR from `/` and refuses unless every directory that exists is a real directory (no
 * symbolic link) owned by root or UID that neither its group nor others can write (sticky
 * directories such as /tmp excepted: no one can replace what root or UID owns in them). It
 * sets `owned=1` when a directory belongs to UID (not root): whoever owns a directory can swap
 * what is in it, so hive then works there as that user, never as root. `make_dirs DIR MODE`
 * creates DIR's missing directories one by one with plain mkdir, which fails rather than accept
 * a directory someone else slipped in; the last gets MODE, the others 0755.
 */
export const NODE_SHELL_LIB = `set -u
umask 077
refuse() { printf 'hive-keys: %s\\n' "$1" >&2; exit ${EXIT_KEYS_REFUSED}; }
abort() { printf 'hive-keys: %s\\n' "$1" >&2; exit ${EXIT_KEYS_FAILED}; }
group_exists() {
  if command -v getent >/dev/null 2>&1; then getent group "$1" >/dev/null 2>&1
  else awk -F: -v g="$1" '$1 == g { found = 1 } END { exit !found }' /etc/group; fi
}
check_path() {
  owned=0 cur=/ rest=\${1#/}
  while :; do
    if [ -L "$cur" ]; then refuse "$cur (on the way to $3) is a symbolic link; hive does not write or remove through symbolic links"; fi
    [ -e "$cur" ] || return 0
    [ -d "$cur" ] || refuse "$cur (on the way to $3) exists and is not a directory"
    info=$(stat -c '%u %a' -- "$cur") || abort "cannot read the owner and mode of $cur"
    u=\${info% *} m=\${info#* }
    if [ "$u" != 0 ]; then
      [ "$u" = "$2" ] || refuse "$cur (on the way to $3) belongs to uid $u, neither root nor the key's owner; that user could redirect what hive writes there"
      owned=1
    fi
    if [ $(( 0$m & 022 )) -ne 0 ] && [ $(( 0$m & 01000 )) -eq 0 ]; then
      refuse "$cur (on the way to $3) can be written by its group or others (mode $m); they could redirect what hive writes there"
    fi
    [ -n "$rest" ] || return 0
    case $cur in /) cur=/\${rest%%/*} ;; *) cur=$cur/\${rest%%/*} ;; esac
    case $rest in */*) rest=\${rest#*/} ;; *) rest= ;; esac
  done
}
make_dirs() {
  md=/ mrest=\${1#/}
  while [ -n "$mrest" ]; do
    case $md in /) md=/\${mrest%%/*} ;; *) md=$md/\${mrest%%/*} ;; esac
    case $mrest in */*) mrest=\${mrest#*/}; mmode=0755 ;; *) mrest=; mmode=$2 ;; esac
    [ -d "$md" ] && [ ! -L "$md" ] && continue
    mkdir -m "$mmode" -- "$md" || abort "cannot create directory $md"
  done
}`;

/** How a script runs a command as user $1 (uid $2) when it is root, and directly when it already is that user. */
export const AS_USER_FN = `as_user() {
  au_user=$1 au_uid=$2; shift 2
  if [ "$(id -u)" = "$au_uid" ]; then "$@"; return; fi
  setpriv --reuid="$au_uid" --regid="$(id -g -- "$au_user")" --init-groups -- "$@"
}`;
