#!/bin/sh
# snmpd "pass" handler for TestPollValueTypes: snmpd's override directive has no Counter64 type,
# so the two 64-bit counters come from here. Called as: counter64-pass.sh -g|-n|-s OID
[ "$1" = "-g" ] || exit 0
case "$2" in
.1.3.6.1.4.1.99999.1.0) printf '%s\ncounter64\n4294979641\n' "$2" ;;           # 2^32 + 12345
.1.3.6.1.4.1.99999.2.0) printf '%s\ncounter64\n18446744073709549568\n' "$2" ;; # 2^64 - 2048
esac
