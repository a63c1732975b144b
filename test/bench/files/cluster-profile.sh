# /etc/profile.d/cluster.sh (managed by the benchmark playbook)
export CLUSTER_HOME=/opt/cluster
case ":$PATH:" in
  *:/opt/cluster/bin:*) ;;
  *) PATH="$PATH:/opt/cluster/bin" ;;
esac
export HISTTIMEFORMAT='%F %T '
