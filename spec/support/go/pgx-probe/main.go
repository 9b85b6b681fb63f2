// pgx-probe: connect once with pgx v4 (pgx.Connect, the way applications call it) and print
// one JSON line: {"ok", "error", "sqlstate", "pgxVersion"}. The connection string is argv[1];
// everything else (PGPASSFILE, HOME, ...) comes from the environment the spec gives it.
// Built by spec/support/go-probes.ts against Debian's packaged sources (GOPATH mode, offline).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

type result struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	SQLState string `json:"sqlstate,omitempty"`
}

func main() {
	out := json.NewEncoder(os.Stdout)
	if len(os.Args) != 2 {
		out.Encode(result{Error: "usage: pgx-probe CONNSTRING"})
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Args[1])
	if err != nil {
		r := result{Error: err.Error()}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			r.SQLState = pgErr.Code
		}
		out.Encode(r)
		return
	}
	// Close sends Terminate and closes the socket, as an application's defer conn.Close(ctx) does.
	conn.Close(ctx)
	out.Encode(result{OK: true})
}
