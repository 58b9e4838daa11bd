package mail

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is an SMTP server on loopback, as much of RFC 5321 as a
// submission needs: EHLO, STARTTLS (RFC 3207), AUTH PLAIN and LOGIN
// (RFC 4954, offered only over TLS as real servers do), MAIL, RCPT, DATA.
// It keeps what arrived.
type smtpServer struct {
	addr      string
	tlsConfig *tls.Config // the server's
	roots     *x509.CertPool
	user      string
	pass      string
	startTLS  bool // offer STARTTLS

	mu     sync.Mutex
	got    []received
	auth   []string      // "user:password" of each AUTH, right or wrong
	closed chan struct{} // a client closed its connection (or went silent)
}

type received struct {
	tls      bool
	authed   string
	from     string
	to       []string
	data     string
	authUsed string
}

func newSMTPServer(t *testing.T, user, pass string, startTLS bool) *smtpServer {
	t.Helper()
	cert, roots := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String(), tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		roots: roots, user: user, pass: pass, startTLS: startTLS, closed: make(chan struct{}, 16)}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *smtpServer) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	var n int
	for _, r := range p {
		n = n*10 + int(r-'0')
	}
	return n
}

// hungUp waits (up to 3 s) for the client to close its connection.
func (s *smtpServer) hungUp(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(3 * time.Second):
		t.Error("the client left its connection open")
	}
}

func (s *smtpServer) logins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

func (s *smtpServer) mails() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *smtpServer) serve(c net.Conn) {
	defer func() { c.Close(); s.closed <- struct{}{} }()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	read := func() (string, bool) {
		l, err := r.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err == nil
	}
	var cur received
	isTLS := false
	say("220 test ESMTP")
	for {
		line, ok := read()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"250-test"}
			if s.startTLS && !isTLS {
				lines = append(lines, "250-STARTTLS")
			}
			if isTLS {
				lines = append(lines, "250-AUTH PLAIN LOGIN")
			}
			for _, l := range lines {
				w.WriteString(l + "\r\n")
			}
			say("250 8BITMIME")
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, s.tlsConfig)
			if tc.Handshake() != nil {
				return
			}
			c, isTLS = tc, true
			r, w = bufio.NewReader(c), bufio.NewWriter(c)
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			var user, pass string
			switch strings.ToUpper(mech) {
			case "PLAIN":
				if initial == "" {
					say("334 ")
					initial, _ = read()
				}
				b, _ := base64.StdEncoding.DecodeString(initial)
				parts := strings.Split(string(b), "\x00")
				if len(parts) == 3 {
					user, pass = parts[1], parts[2]
				}
			case "LOGIN":
				say("334 " + base64.StdEncoding.EncodeToString([]byte("Username:")))
				u, _ := read()
				say("334 " + base64.StdEncoding.EncodeToString([]byte("Password:")))
				p, _ := read()
				ub, _ := base64.StdEncoding.DecodeString(u)
				pb, _ := base64.StdEncoding.DecodeString(p)
				user, pass = string(ub), string(pb)
			default:
				say("504 unknown mechanism")
				continue
			}
			s.mu.Lock()
			s.auth = append(s.auth, user+":"+pass)
			s.mu.Unlock()
			if user != s.user || pass != s.pass {
				say("535 5.7.8 authentication credentials invalid")
				continue
			}
			cur.authed, cur.authUsed = user, strings.ToUpper(mech)
			say("235 2.7.0 authenticated")
		case "MAIL":
			if s.user != "" && cur.authed == "" {
				say("530 5.7.0 authentication required")
				continue
			}
			cur.from = between(arg)
			say("250 ok")
		case "RCPT":
			cur.to = append(cur.to, between(arg))
			say("250 ok")
		case "DATA":
			say("354 end with .")
			var b strings.Builder
			for {
				l, ok := read()
				if !ok {
					return
				}
				if l == "." {
					break
				}
				b.WriteString(strings.TrimPrefix(l, ".") + "\n")
			}
			cur.data, cur.tls = b.String(), isTLS
			s.mu.Lock()
			s.got = append(s.got, cur)
			s.mu.Unlock()
			cur = received{authed: cur.authed, authUsed: cur.authUsed}
			say("250 queued")
		case "RSET":
			cur = received{authed: cur.authed, authUsed: cur.authUsed}
			say("250 ok")
		case "NOOP":
			say("250 ok")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// between is the address in a MAIL FROM:<…> or RCPT TO:<…> argument.
func between(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}
