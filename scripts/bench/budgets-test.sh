#!/usr/bin/env bash
# The verdict rule of `make bench` (scripts/bench/budgets.sh), checked on
# figures made up for the purpose: a median inside or outside a budget,
# one pair far off, an even number of pairs, the best run of the
# in-process figures, a budget with no figures.  Run by `make check`.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. scripts/bench/budgets.sh
: >"$tmp/verdicts"
fail=0

# expect KEY "FIGURES" VERDICT-PREFIX [FIGURE]: judge KEY on the figures
# (one per pair or run) and compare the verdict's start and the figure.
expect() {
	local got fig
	printf '%s\n' $2 >"$tmp/figs"
	judge "$1" "$tmp/figs" >/dev/null
	got=$(tail -1 "$tmp/verdicts" | cut -f6)
	fig=$(tail -1 "$tmp/verdicts" | cut -f2)
	if [ "${got#"$3"}" = "$got" ] || { [ -n "${4:-}" ] && [ "$fig" != "$4" ]; }; then
		echo "budgets-test: $1 on [$2]: got \"$got\" (figure $fig), expected \"$3...\" ${4:+(figure $4)}"
		fail=1
	fi
}

# Pair figures (the median decides, whatever the extremes): "le 2 us"
# and "ge 0.97".
expect http_c_pair "2.9 2.5 3.1 2.1 3.0" "missed by 0.9 " 2.9
expect http_c_pair "1.2 1.1 1.0 1.9 1.5" "met" 1.2
expect http_c_pair "2.9 2.5 3.1 1.5 3.0" "missed by 0.9 " 2.9
expect http_c_pair "1.2 1.1 1.0 30 1.5" "met" 1.2
expect http_c_pair "-3 -2 -1 40 0 0.5 1" "met" 0
expect http_c_pair "2 2 2" "met" 2
expect http_c_pair "1 3 2.5 1.5" "met" 2
expect http_c_pair "1 3 2.6 1.6" "missed by 0.1 " 2.1
expect pgbench_select "0.98 0.99 1.0 0.975 0.985" "met" 0.985
expect pgbench_select "0.93 0.94 0.95 0.96 0.92" "missed by 0.03 " 0.94
expect pgbench_select "0.98 0.99 1.0 0.50 0.985" "met" 0.985
# The median's 95 % interval (6 figures or more): the budget inside it
# marks the verdict "at the line"; outside it, or too few figures, not.
expect http_c_pair "1.5 1.8 1.9 2.1 2.2 2.5 1.7" "met, at the line" 1.9
expect http_c_pair "2.5 2.8 2.9 1.9 3.2 3.5 2.7" "missed by 0.8 (40.0 %), at the line" 2.8
expect pgbench_select "0.95 0.96 0.98 0.99 1.0 0.975 0.985" "met, at the line" 0.98
not_at_line() {
	printf '%s\n' $2 >"$tmp/figs"
	judge "$1" "$tmp/figs" >/dev/null
	case $(tail -1 "$tmp/verdicts" | cut -f6) in
	*"at the line"*)
		echo "budgets-test: $1 on [$2]: \"at the line\", expected a clear verdict"
		fail=1 ;;
	esac
}
not_at_line http_c_pair "1.0 1.1 1.2 1.3 1.4 1.5 1.6"
not_at_line http_c_pair "2.5 2.8 2.9 2.1 3.2 3.5 2.7"
not_at_line http_c_pair "1.5 2.5 1.9"
not_at_line span_sampled "99 101 102 103 104 105 106"
# In-process figures: the best run decides, whatever the others.
expect span_sampled "131 88 129" "met" 88
expect span_sampled "131 108 129" "missed by 8 " 108
expect exporter "1.2 1.6 0.9" "met" 1.6
expect exporter "1.2 1.4 0.9" "missed by 0.1 " 1.4
# No figures (the scenario did not run), and figures that are not numbers.
expect curl "" "not run"
expect curl "x nan" "not run"
[ $fail = 0 ] && echo "budgets-test: OK"
exit $fail
