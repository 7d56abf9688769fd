#!/bin/sh
# Run dmos programs built against test/linux.c on this Linux host: hello,
# and selftest (crt0, libc stubs, newlib, libdm). Usage: host-test.sh DIR
set -u
dir=$1
fail=0
say() { echo "host-test: $*"; }

out=$("$dir/hello" one two 2>&1); rc=$?
echo "$out" | sed 's/^/  hello| /'
if [ $rc -eq 0 ] && echo "$out" | grep -q '^argc 3: .*hello one two$' &&
   [ "$(echo "$out" | tail -n 1)" = "hello: ok" ]; then
	say "ok hello"
else
	say "not ok hello (exit $rc)"; fail=1
fi

out=$(DMOS_SELFTEST=yes "$dir/selftest" 2>&1); rc=$?
echo "$out" | sed 's/^/  selftest| /'
if [ $rc -eq 0 ] && ! echo "$out" | grep -q '^not ok' &&
   [ "$(echo "$out" | tail -n 1)" = "selftest: atexit ran" ]; then
	say "ok selftest"
else
	say "not ok selftest (exit $rc)"; fail=1
fi

"$dir/selftest" --exit 7 >/dev/null 2>&1; rc=$?
if [ $rc -eq 7 ]; then say "ok exit status from main"; else say "not ok exit status: $rc, not 7"; fail=1; fi

[ $fail -eq 0 ] && say "all passed" || say "FAILED"
exit $fail
