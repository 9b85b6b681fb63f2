// pgx-probe: connect once with pgx v4 (pgx.Connect's own path: ParseConfig, then ConnectConfig)
// and print one JSON line: {"ok", "error", "sqlstate"}. The connection string is argv[1];
// everything else (PGPASSFILE, HOME, ...) comes from the environment the spec gives it.
// Built by spec/support/go-probes.ts against Debian's packaged sources (GOPATH mode, offline).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

type result struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	SQLState string `json:"sqlstate,omitempty"`
}

// Connections pgconn opened that are not closed yet. After a read error pgconn closes in a
// goroutine that first sends a CancelRequest on a new connection (pgconn.go asyncClose); a
// process that lives on lets it finish, so the probe waits for it before exiting.
var open sync.WaitGroup

type tracked struct {
	net.Conn
	once sync.Once
}

func (c *tracked) Close() error {
	c.once.Do(open.Done)
	return c.Conn.Close()
}

func main() {
	out := json.NewEncoder(os.Stdout)
	if len(os.Args) != 2 {
		out.Encode(result{Error: "usage: pgx-probe CONNSTRING"})
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	config, err := pgx.ParseConfig(os.Args[1])
	var conn *pgx.Conn
	if err == nil {
		// The dialer ParseConfig installs (no connect_timeout is used), counted.
		dial := config.DialFunc
		config.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			open.Add(1)
			return &tracked{Conn: c}, nil
		}
		conn, err = pgx.ConnectConfig(ctx, config)
	}
	if err != nil {
		r := result{Error: err.Error()}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			r.SQLState = pgErr.Code
		}
		waitClosed(2 * time.Second)
		out.Encode(r)
		return
	}
	// Close sends Terminate and closes the socket, as an application's defer conn.Close(ctx) does.
	conn.Close(ctx)
	out.Encode(result{OK: true})
}

func waitClosed(limit time.Duration) {
	// The goroutine that sends the CancelRequest has dialled by now if there is one.
	time.Sleep(30 * time.Millisecond)
	done := make(chan struct{})
	go func() { open.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}
