package main

import (
	"context"

	"github.com/IBM/pgxpoolprometheus"
	"golang.org/x/sync/errgroup"

	"presencebridge/internal/intake"
	"presencebridge/internal/store"
	"presencebridge/web/graphhook"
)

// startIntake starts the receiver of Graph's notifications (web role) on a
// pool of its own, PB_INTAKE_DB_CONNS connections beside the main pool's
// PB_DB_MAX_CONNS: the receiver's lookups (graphhook.DefaultLookups at
// once) and the group commit's workers (the rest) never wait for the
// connections processors, engine locks and token refreshes hold, and
// Graph's answers — every tenant's notifications — with them. Its LISTEN
// connection is the main pool's: it holds Graph up only while it
// reconnects, when unknown ids are looked up every time.
func startIntake(ctx context.Context, g *errgroup.Group, a *app, role string) (*graphhook.Handler, error) {
	pool, err := newPool(ctx, a.pool.Config().ConnString(), a.cfg.IntakeDBConns, role+"-intake")
	if err != nil {
		return nil, err
	}
	a.intake = pool // closed by a.Close, after the HTTP server's drain
	a.metrics.MustRegister(pgxpoolprometheus.NewCollector(pool, map[string]string{"db": "intake"}))
	c := intake.NewCommitter(pool, intake.CommitterOptions{Workers: int(a.cfg.IntakeDBConns) - graphhook.DefaultLookups})
	g.Go(func() error { c.Run(ctx); return nil })
	h := graphhook.New(graphhook.Deps{Subs: store.New(pool, nil), Committer: c, Changes: a.store, MaxRequests: a.cfg.IntakeMaxRequests,
		Logger: a.logger, Metrics: a.metrics})
	g.Go(func() error { h.Run(ctx); return nil })
	return h, nil
}
