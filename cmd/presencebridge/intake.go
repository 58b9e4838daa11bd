package main

import (
	"context"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"presencebridge/internal/intake"
	"presencebridge/internal/store"
	"presencebridge/web/graphhook"
)

// startIntake starts the receiver of Graph's notifications (web role) on
// PB_INTAKE_DB_CONNS connections of its own, beside the main pool's
// PB_DB_MAX_CONNS: one for its subscription lookups — one statement per
// POST — and the others for the group commit's workers, each a pool, so
// that neither the connections processors, engine locks and token
// refreshes hold, nor lookups held up by a flood of unknown ids, hold up
// the commit, and Graph's answers — every tenant's notifications — with
// it. Its LISTEN connection is the main pool's: while it reconnects,
// unknown ids are looked up every time. prio, when set, holds this
// process's processors back while it acknowledges (serve).
func startIntake(ctx context.Context, g *errgroup.Group, a *app, role string, prio *intake.Priority) (*graphhook.Handler, error) {
	lookups, err := a.intakePool(ctx, 1, role, "lookups")
	if err != nil {
		return nil, err
	}
	commits, err := a.intakePool(ctx, a.cfg.IntakeDBConns-1, role, "commits")
	if err != nil {
		return nil, err
	}
	c := intake.NewCommitter(commits, intake.CommitterOptions{Workers: int(a.cfg.IntakeDBConns) - 1})
	g.Go(func() error { c.Run(ctx); return nil })
	h := graphhook.New(graphhook.Deps{Subs: store.New(lookups, nil), Committer: c, Changes: a.store, MaxRequests: a.cfg.IntakeMaxRequests,
		Priority: prio, Logger: a.logger, Metrics: a.metrics})
	g.Go(func() error { h.Run(ctx); return nil })
	return h, nil
}

// intakePool opens one of the intake's pools on the main pool's database,
// its connections named presencebridge-<role>-intake-<use> and its metrics
// db="intake-<use>"; a.Close closes it, after the HTTP server's drain.
func (a *app) intakePool(ctx context.Context, conns int32, role, use string) (*pgxpool.Pool, error) {
	p, err := newPool(ctx, a.pool.Config().ConnString(), conns, role+"-intake-"+use)
	if err != nil {
		return nil, err
	}
	a.intake = append(a.intake, p)
	a.metrics.MustRegister(pgxpoolprometheus.NewCollector(p, map[string]string{"db": "intake-" + use}))
	return p, nil
}
