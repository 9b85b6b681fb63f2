// pq-probe: connect once with lib/pq through database/sql (sql.Open + PingContext, the way
// applications use it: database/sql would retry an open that failed with driver.ErrBadConn)
// and print one JSON line: {"ok", "error", "sqlstate"}. The DSN or URL is argv[1]; the
// environment comes from the spec. Built by spec/support/go-probes.ts against Debian's
// packaged sources (GOPATH mode, offline).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/lib/pq"
)

type result struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	SQLState string `json:"sqlstate,omitempty"`
}

func main() {
	out := json.NewEncoder(os.Stdout)
	if len(os.Args) != 2 {
		out.Encode(result{Error: "usage: pq-probe DSN"})
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := sql.Open("postgres", os.Args[1])
	if err == nil {
		// One connection at most, so that a retry by database/sql would show as a second TCP connection.
		db.SetMaxOpenConns(1)
		err = db.PingContext(ctx)
		// Close sends Terminate on the pooled connection.
		db.Close()
	}
	if err != nil {
		// lib/pq leaves the raw connection open when a certificate check after the handshake
		// fails (conn.go:361-366); a process that lives on has it reset later, with the server's
		// session tickets unread. Staying a moment makes that reset the same on every server.
		defer time.Sleep(50 * time.Millisecond)
		r := result{Error: err.Error()}
		var pqErr *pq.Error
		if errors.As(err, &pqErr) {
			r.SQLState = string(pqErr.Code)
		}
		out.Encode(r)
		return
	}
	out.Encode(result{OK: true})
}
