// Command kube-sandbox runs a real, single-node Kubernetes control plane for Ferry's tests:
// an embedded etcd, kube-apiserver and kube-controller-manager (garbage collector, namespace,
// service-account and root-CA publisher controllers), all built from the published Go modules.
//
// The parent process generates a CA, a serving certificate, an admin client certificate and a
// service-account signing key, embeds etcd, and re-executes itself as the API server and the
// controller manager (each in its own process, since both register process-global state).
// When the control plane answers /readyz and the service-account controller has created the
// default ServiceAccount, it writes <data-dir>/kubeconfig and prints "READY <kubeconfig>".
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

const issuer = "https://kubernetes.default.svc.cluster.local"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "apiserver":
			os.Args = append([]string{os.Args[0]}, os.Args[2:]...)
			cmd := apiserver.NewAPIServerCommand()
			cmd.SetArgs(os.Args[1:])
			exitOn(cmd.Execute())
			return
		case "controller-manager":
			os.Args = append([]string{os.Args[0]}, os.Args[2:]...)
			cmd := controllermanager.NewControllerManagerCommand()
			cmd.SetArgs(os.Args[1:])
			exitOn(cmd.Execute())
			return
		}
	}
	dataDir := flag.String("data-dir", "", "directory for certificates, etcd data, logs and the kubeconfig (required)")
	port := flag.Int("port", 0, "API server port on 127.0.0.1 (0 picks a free port)")
	flag.Parse()
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "kube-sandbox: --data-dir is required")
		os.Exit(2)
	}
	if err := run(*dataDir, *port); err != nil {
		fmt.Fprintf(os.Stderr, "kube-sandbox: %v\n", err)
		os.Exit(1)
	}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dataDir string, port int) error {
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	pki, err := writePKI(dataDir)
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	kubeconfig := filepath.Join(dataDir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, server, pki); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}

	etcdURL, stopEtcd, err := startEtcd(dataDir)
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	defer stopEtcd()

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	api, err := spawn(ctx, dataDir, "apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(dataDir, "apiserver-certs"),
		"--tls-cert-file="+pki.serverCert,
		"--tls-private-key-file="+pki.serverKey,
		"--client-ca-file="+pki.caCert,
		"--service-account-issuer="+issuer,
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=0",
	)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, kubeconfig, api); err != nil {
		return fmt.Errorf("API server not ready (see %s): %w", filepath.Join(dataDir, "apiserver.log"), err)
	}
	kcm, err := spawn(ctx, dataDir, "controller-manager",
		"--kubeconfig="+kubeconfig,
		"--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,root-ca-certificate-publisher-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--root-ca-file="+pki.caCert,
		"--use-service-account-credentials=false",
		"--concurrent-gc-syncs=5",
		"--v=0",
	)
	if err != nil {
		return err
	}
	if err := waitDefaultServiceAccount(ctx, kubeconfig, kcm); err != nil {
		return fmt.Errorf("controller manager not ready (see %s): %w", filepath.Join(dataDir, "controller-manager.log"), err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "ready"), []byte(server+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Printf("READY %s\n", kubeconfig)

	select {
	case <-ctx.Done():
	case <-api.done:
		return fmt.Errorf("kube-apiserver exited (see %s)", filepath.Join(dataDir, "apiserver.log"))
	case <-kcm.done:
		return fmt.Errorf("kube-controller-manager exited (see %s)", filepath.Join(dataDir, "controller-manager.log"))
	}
	api.stop()
	kcm.stop()
	return nil
}

// child is a re-executed copy of this binary running one control-plane component.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		// A test sandbox has nothing to drain; do not wait for a full graceful shutdown.
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func spawn(ctx context.Context, dataDir, mode string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dataDir, mode+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{mode}, args...)...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// The component dies with us, even if we are killed with SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", mode, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(c.done)
	}()
	return c, nil
}

func waitReady(ctx context.Context, kubeconfig string, c *child) error {
	client, err := clientFor(kubeconfig)
	if err != nil {
		return err
	}
	return poll(ctx, c, func() bool {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok"
	})
}

func waitDefaultServiceAccount(ctx context.Context, kubeconfig string, c *child) error {
	client, err := clientFor(kubeconfig)
	if err != nil {
		return err
	}
	return poll(ctx, c, func() bool {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
}

func poll(ctx context.Context, c *child, ok func() bool) error {
	deadline := time.After(60 * time.Second)
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return fmt.Errorf("process exited")
		case <-deadline:
			return fmt.Errorf("timed out after 60s")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func clientFor(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 2 * time.Second
	return kubernetes.NewForConfig(cfg)
}

func startEtcd(dataDir string) (string, func(), error) {
	clientPort, err := freePort()
	if err != nil {
		return "", nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dataDir, "etcd")
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return "", nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return "", nil, fmt.Errorf("etcd not ready after 30s")
	}
	return clientURL.String(), e.Close, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type pkiFiles struct {
	caCert, serverCert, serverKey, adminCert, adminKey, saKey, saPub string
}

func writePKI(dir string) (pkiFiles, error) {
	p := pkiFiles{
		caCert:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		adminCert:  filepath.Join(dir, "admin.crt"),
		adminKey:   filepath.Join(dir, "admin.key"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ferry-sandbox-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	if err := writePEM(p.caCert, "CERTIFICATE", caDER); err != nil {
		return p, err
	}
	server := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if err := issue(ca, caKey, server, p.serverCert, p.serverKey); err != nil {
		return p, err
	}
	admin := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "ferry-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := issue(ca, caKey, admin, p.adminCert, p.adminKey); err != nil {
		return p, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return p, err
	}
	if err := writePEM(p.saKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)); err != nil {
		return p, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return p, err
	}
	return p, writePEM(p.saPub, "PUBLIC KEY", pub)
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(10 * 365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(keyPath, "EC PRIVATE KEY", keyDER)
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

func writeKubeconfig(path, server string, p pkiFiles) error {
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: admin
current-context: sandbox
`, server, p.caCert, p.adminCert, p.adminKey)
	return os.WriteFile(path, []byte(content), 0o600)
}
