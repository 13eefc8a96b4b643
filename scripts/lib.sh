# Shell helpers shared by scripts/demo.sh and scripts/bench-bootstrap.sh (sourced, not run).

# free_port: a free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bao_raft_config DIR NODE PORT CLUSTER_PORT: writes DIR/bao.hcl, an uninitialised single-node
# OpenBao on loopback with integrated (raft) storage in DIR/data (OpenBao 2.x has no file storage).
bao_raft_config() {
  mkdir -p "$1/data"
  cat >"$1/bao.hcl" <<HCL
storage "raft" {
  path    = "$1/data"
  node_id = "$2"
  performance_multiplier = 1   # single-node raft: no need for the slow default timings
}
listener "tcp" {
  address         = "127.0.0.1:$3"
  cluster_address = "127.0.0.1:$4"
  tls_disable     = true
}
api_addr      = "http://127.0.0.1:$3"
cluster_addr  = "http://127.0.0.1:$4"
disable_mlock = true
ui            = false
HCL
}
