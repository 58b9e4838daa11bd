package main

import (
	"context"
	"runtime"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/errgroup"

	"presencebridge/internal/activity"
	"presencebridge/internal/certs"
	"presencebridge/internal/deliver"
	"presencebridge/internal/intake"
	"presencebridge/internal/keycache"
	"presencebridge/internal/notification"
	"presencebridge/internal/presence"
	"presencebridge/internal/stream"
	"presencebridge/web/api"
	"presencebridge/web/graphhook"
)

// pipeline is the path of a presence change through this process: the
// Graph receiver and the event stream in the web role; the processor and
// the deliverer in the worker role.
type pipeline struct {
	hook *graphhook.Handler
	api  func(chi.Router)
}

// mount adds the pipeline's HTTP surfaces (web role only).
func (p *pipeline) mount(r chi.Router) {
	if p.hook != nil {
		r.Route("/graph", p.hook.Routes)
	}
	if p.api != nil {
		r.Route("/api/v1", p.api)
	}
}

// startPipeline starts the pipeline's goroutines in g for role r.
func startPipeline(ctx context.Context, g *errgroup.Group, a *app, r role, res api.Resources) (*pipeline, error) {
	p := &pipeline{}
	hub := stream.NewHub(a.store, a.logger)
	g.Go(func() error { hub.Run(ctx); return nil })
	// With both roles in one process, acknowledging Graph comes before
	// processing and delivering (intake.Priority): on shared cores they
	// otherwise took them, and acknowledgements' p99 reached 1.2–2.2 s at
	// 5,000 changes/s (docs/scale-out.md).
	var prio *intake.Priority
	if r.web && r.worker {
		prio = intake.NewPriority(intake.PriorityOptions{})
	}
	if r.web {
		hook, err := startIntake(ctx, g, a, r.name, prio)
		if err != nil {
			return nil, err
		}
		p.hook = hook
		keys := keycache.New(a.store, keycache.Options{Logger: a.logger})
		g.Go(func() error { keys.Run(ctx); return nil })
		p.api = api.Routes(api.Deps{Store: a.store, Keys: keys, Subscribe: hub.Subscribe, Logger: a.logger, RateLimit: a.cfg.APIRateLimit,
			AllowLoopbackWebhooks: !a.cfg.Production(), Resources: res})
	}
	if r.worker {
		audiences := []string{}
		if a.cfg.ClientID != "" {
			audiences = append(audiences, a.cfg.ClientID)
		}
		v, err := notification.NewValidator(ctx, notification.ValidatorOptions{LoginURL: a.cfg.LoginBaseURL, Audiences: audiences})
		if err != nil {
			return nil, err
		}
		// Our encryption certificates: loaded as soon as any instance makes
		// one (its NOTIFY), which is before the subscription that names it
		// exists; every minute in case a NOTIFY was missed; and by the
		// processor itself when an item names one it does not hold.
		keys := notification.NewKeys()
		a.logger.Info("intake: rich notifications decrypt with " + notification.Unwrapper)
		cm := certs.New(a.store, nil)
		newCert, stopCerts := hub.SubscribeCerts()
		g.Go(func() error {
			defer stopCerts()
			runOnSignal(ctx, newCert, time.Minute, func() {
				if err := cm.Load(ctx, keys); err != nil && ctx.Err() == nil {
					a.logger.Warn("intake: loading encryption certificates failed", "err", err)
				}
			})
			return nil
		})
		// Per-tenant figures for the charts and /metrics, written every few
		// seconds; once more after the deliverer's last records.
		counts := activity.NewRecorder(a.store, activity.Options{Logger: a.logger, Metrics: a.metrics, TenantLabels: a.cfg.MetricsTenantLabels})
		g.Go(func() error { counts.Run(ctx); return nil })
		proc := intake.NewProcessor(a.store, intake.ProcessorOptions{Keys: keys, Certs: cm, Tokens: v, Logger: a.logger,
			Metrics: intake.NewMetrics(a.metrics), Activity: counts, Priority: prio})
		inbox, stopInbox := hub.SubscribeInbox()
		changes, stopChanges := hub.SubscribeChanges()
		for range runtime.GOMAXPROCS(0) { // decryption is CPU-bound: one processor per core
			g.Go(func() error {
				runOnSignal(ctx, inbox, time.Second, func() { processInbox(ctx, a, proc) })
				return nil
			})
		}
		g.Go(func() error { <-ctx.Done(); stopInbox(); return nil })
		g.Go(func() error { presence.RunPublisher(ctx, a.store, a.logger); return nil })
		d := deliver.New(a.store, deliver.Options{AllowPrivate: !a.cfg.Production(), Logger: a.logger, Wake: changes, Metrics: a.metrics,
			Activity: counts, Priority: prio})
		g.Go(func() error {
			defer stopChanges()
			d.Run(ctx, time.Second)
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), activity.LastFlush)
			defer cancel()
			if err := counts.Flush(last); err != nil {
				a.logger.Warn("activity: writing the last per-minute figures failed", "err", err)
			}
			return nil
		})
	}
	return p, nil
}

func processInbox(ctx context.Context, a *app, proc *intake.Processor) {
	if _, err := proc.Drain(ctx); err != nil && ctx.Err() == nil {
		a.logger.Warn("intake: processing the inbox failed; retrying", "err", err)
	}
}

// runOnSignal calls fn whenever wake signals, and at least every
// interval (a missed NOTIFY costs a second, never a loss), until ctx ends.
func runOnSignal(ctx context.Context, wake <-chan struct{}, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}
