# Q1..Q8 of shared/bench/peers.py as `tally query` arguments, for Benchmarks/peers.sh and Benchmarks/cluster.sh
# (sourced). EDIT HERE when the command's flags change. QUERIES in peers.py says exactly what each query returns;
# the caller sets L = largest tenant, M = 20th largest tenant, S7 = UTC start of the last 7 days.
# --no-fill: the peers return only buckets that have rows; --measures: the sums the peers' query returns (Q4, Q5, Q7
# and Q8 return cost and count only). Sets QUERY_ARGS; fails for an unknown name.
query_shape_args() {
    case $1 in
        Q1) QUERY_ARGS=(usage --tenant "$L" --resolution hour --no-fill) ;;
        Q2) QUERY_ARGS=(usage --tenant "$M" --resolution day --no-fill) ;;
        Q3) QUERY_ARGS=(cost --tenant "$L" --group-by model --order cost) ;;
        Q4) QUERY_ARGS=(cost --tenant "$L" --group-by user --order cost --limit 20 --measures cost) ;;
        Q5) QUERY_ARGS=(cost --tenant '*' --from "$S7" --group-by tenant,feature --order key --measures cost) ;;
        Q6) QUERY_ARGS=(usage --tenant '*' --resolution day --no-fill) ;;
        Q7) QUERY_ARGS=(baseline --tenant '*' --group-by tenant --trailing-days 7 --no-fill --measures cost) ;;
        Q8) QUERY_ARGS=(cost --tenant '*' --group-by model --order key --measures cost) ;;
        *) return 1 ;;
    esac
}

# Sets L, M and S7 from the store DATA itself with the tally binary TALLY (query-process.sh, process-ab.sh).
store_shape_params() {
    local ranked last
    ranked=$("$TALLY" query cost --tenant '*' --group-by tenant --order count --measures count --format csv --data "$DATA")
    L=$(echo "$ranked" | sed -n 2p | cut -d, -f1)
    M=$(echo "$ranked" | sed -n "$(( $(echo "$ranked" | wc -l) < 21 ? $(echo "$ranked" | wc -l) : 21 ))p" | cut -d, -f1)
    last=$("$TALLY" query usage --tenant '*' --resolution day --no-fill --format csv --data "$DATA" | tail -1 | cut -c1-10)
    S7=$(python3 -c "import datetime, sys; print((datetime.date.fromisoformat(sys.argv[1]) - datetime.timedelta(days=6)).isoformat() + 'T00:00:00Z')" "$last")
}
