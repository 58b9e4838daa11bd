package faults

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy is a TCP proxy on loopback in front of a server (PostgreSQL, the
// web role) that the suite can cut, as a network would: the processes
// behind and in front of it keep running and must cope. Its target may
// move (a restarted PostgreSQL has a new socket).
type Proxy struct {
	ln   net.Listener
	Addr string // host:port clients connect to

	mu       sync.Mutex
	network  string // of the target: tcp or unix
	target   string
	cut      bool
	requests gate // what clients send
	answers  gate // what the server sends back
	conns    map[net.Conn]bool
	closed   bool
}

// gate holds back one direction of every connection while shut.
type gate struct {
	shut   bool
	opened chan struct{} // closed when the gate opens again
}

func (g *gate) hold() {
	if !g.shut {
		g.shut, g.opened = true, make(chan struct{})
	}
}

func (g *gate) release() {
	if g.shut {
		g.shut = false
		close(g.opened)
	}
}

// NewProxy listens on a free loopback port and forwards to target
// (network tcp or unix).
func NewProxy(network, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, Addr: ln.Addr().String(), network: network, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	return p, nil
}

// Retarget sends new connections to target from now on.
func (p *Proxy) Retarget(network, target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.network, p.target = network, target
}

// Cut closes every connection and refuses new ones (they are accepted and
// closed at once, as a peer resetting them) until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := p.conns
	p.conns = map[net.Conn]bool{}
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// HoldAnswers keeps what the server sends from reaching clients: requests
// arrive and are acted on (a statement runs, commits), the answers wait —
// until ReleaseAnswers, or are lost with the connection when it is cut.
func (p *Proxy) HoldAnswers() { p.with(func() { p.answers.hold() }) }

// ReleaseAnswers lets held and new answers through.
func (p *Proxy) ReleaseAnswers() { p.with(func() { p.answers.release() }) }

// HoldRequests keeps what clients send from reaching the server: a
// statement sent meanwhile has not run — until ReleaseRequests, or never
// when the connection is cut first.
func (p *Proxy) HoldRequests() { p.with(func() { p.requests.hold() }) }

// ReleaseRequests lets held and new requests through.
func (p *Proxy) ReleaseRequests() { p.with(func() { p.requests.release() }) }

func (p *Proxy) with(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.ReleaseAnswers() // their connections are closed: the writes fail
	p.ReleaseRequests()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	p.mu.Lock()
	network, target, refuse := p.network, p.target, p.cut || p.closed
	if !refuse {
		p.conns[c] = true
	}
	p.mu.Unlock()
	if refuse {
		c.Close()
		return
	}
	up, err := net.DialTimeout(network, target, 5*time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if !p.conns[c] { // cut while dialling
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[up] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c, &p.requests); done <- struct{}{} }()
	go func() { p.copy(c, up, &p.answers); done <- struct{}{} }()
	<-done
	p.drop(c)
	p.drop(up)
}

// copy copies from src to dst, waiting while g is shut. Bytes read
// before a cut are written only if dst is still open, which it is not
// after Cut: a request held then never reaches the server.
func (p *Proxy) copy(dst, src net.Conn, g *gate) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			shut, opened := g.shut, g.opened
			p.mu.Unlock()
			if shut {
				<-opened
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if w, ok := dst.(interface{ CloseWrite() error }); ok {
					w.CloseWrite()
				}
			}
			return
		}
	}
}

func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}
