package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// AlertMailer sends the alert mails that are due (*alertmail.Sender).
type AlertMailer interface {
	Pass(ctx context.Context) (int, error)
}

// alertMailEvery is how often alert mail is looked for: an alert waits at
// most this long for its mail.
const alertMailEvery = time.Minute

// AlertMailArgs asks for the alert mails that are due to be sent.
type AlertMailArgs struct{}

// Kind implements river.JobArgs.
func (AlertMailArgs) Kind() string { return "alert_mail" }

// InsertOpts makes the job unique per period, as the session sweep's.
func (AlertMailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: alertMailEvery}}
}

// AlertMailWorker runs one alert mail pass. The pass claims each mail
// under its alert's row lock, so a pass running twice (a leader change,
// a retry) still sends each mail once.
type AlertMailWorker struct {
	river.WorkerDefaults[AlertMailArgs]
	m AlertMailer
}

// Timeout leaves room for a pass's SMTP conversations (each bounded by the
// mailer's own timeout).
func (w *AlertMailWorker) Timeout(*river.Job[AlertMailArgs]) time.Duration { return 5 * time.Minute }

// Work implements river.Worker.
func (w *AlertMailWorker) Work(ctx context.Context, job *river.Job[AlertMailArgs]) error {
	if _, err := w.m.Pass(ctx); err != nil {
		return fmt.Errorf("alert mail: %w", err)
	}
	return nil
}
