// Package mail sends Presence Bridge's e-mail to people: through an SMTP
// server in production (go-mail), or kept in the database in development,
// where `presencebridge dev` shows it on a page instead of sending it.
package mail

import "context"

// Message is a plain-text mail. The sender is the Mailer's.
type Message struct {
	To      []string
	Subject string
	Text    string
}

// Mailer sends mail. Send returns once the server accepted the message
// (or the capture kept it); an error means it was not sent.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}
