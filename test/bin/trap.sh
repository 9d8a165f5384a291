#!/bin/bash
# A command that reports every signal it gets on stdout; TERM ends it with 42.
for s in INT HUP QUIT USR1 USR2 WINCH; do trap "echo got $s" "$s"; done
trap 'echo got TERM; kill $(jobs -p) 2>/dev/null; exit 42' TERM
echo "ready ppid=$PPID pid=$$"
while :; do
  sleep 30 & sleeper=$!
  wait $sleeper
  kill $sleeper 2>/dev/null  # a trapped signal ended the wait: do not leak the sleep
done
