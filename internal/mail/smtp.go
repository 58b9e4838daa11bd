package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS policies: Mandatory sends nothing unless the server takes STARTTLS;
// Opportunistic uses it when offered (authentication still refuses to send
// a password in clear, go-mail's own rule).
const (
	TLSMandatory     = "mandatory"
	TLSOpportunistic = "opportunistic"
)

// SMTPOptions say where and how mail is submitted.
type SMTPOptions struct {
	Host string
	Port int
	// Username and Password authenticate (the strongest mechanism both
	// sides support); empty: none.
	Username, Password string
	From               string
	TLS                string // TLSMandatory (the default) or TLSOpportunistic
	// TLSConfig replaces the default (verify the server's certificate for
	// Host); tests trust their own server with it.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each command (default 30 s).
	Timeout time.Duration
}

// SMTP submits mail to a server, one connection per message: alerts are
// few, and a connection kept open would only go stale between them.
type SMTP struct {
	host, from string
	opts       []gomail.Option
}

// NewSMTP checks the options and returns the mailer; nothing is dialled
// until the first Send.
func NewSMTP(o SMTPOptions) (*SMTP, error) {
	if o.Host == "" || o.From == "" {
		return nil, errors.New("smtp mailer: a host and a sender are required")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	policy := gomail.TLSMandatory
	switch o.TLS {
	case "", TLSMandatory:
	case TLSOpportunistic:
		policy = gomail.TLSOpportunistic
	default:
		return nil, fmt.Errorf("smtp mailer: unknown TLS policy %q", o.TLS)
	}
	if o.Port == 0 {
		o.Port = 587
	}
	opts := []gomail.Option{gomail.WithPort(o.Port), gomail.WithTimeout(o.Timeout), gomail.WithTLSPolicy(policy)}
	if o.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(o.TLSConfig))
	}
	if o.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(o.Username), gomail.WithPassword(o.Password))
	}
	// Build one client now so that bad options fail at start, not at the
	// first alert.
	if _, err := gomail.NewClient(o.Host, opts...); err != nil {
		return nil, fmt.Errorf("smtp mailer: %w", err)
	}
	return &SMTP{host: o.Host, from: o.From, opts: opts}, nil
}

// Send submits m.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("send mail: sender: %w", err)
	}
	if err := msg.To(m.To...); err != nil {
		return fmt.Errorf("send mail: recipients: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	// go-mail v0.8.1 leaves the connection open when STARTTLS or
	// authentication fails, and heeds ctx only while dialling: a server
	// that stops answering would hold Send for its 30 s timeout per
	// command, and a shutdown with it. We close what we dialled, at the
	// end and as soon as ctx ends.
	var mu sync.Mutex
	var conn net.Conn
	closeConn := func() {
		mu.Lock()
		defer mu.Unlock()
		if conn != nil {
			conn.Close()
		}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		mu.Lock()
		conn = c
		mu.Unlock()
		return c, err
	}
	c, err := gomail.NewClient(s.host, append(s.opts, gomail.WithDialContextFunc(dial))...)
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		closeConn()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("send mail %q: %w", m.Subject, err)
	}
	return nil
}
