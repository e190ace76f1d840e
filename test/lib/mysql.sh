# Sourced by the test scripts: the MySQL server of the tests, from
# TIKTOK_TEST_MYSQL_DSN exactly as the Go tests read it (testenv), so that
# one variable points every test at another server.
#   mysql_user mysql_pass mysql_host mysql_port   its parts
#   sql STATEMENT [mysql options...]              runs a statement there
#   dsn_for DB                                     a server DSN for database DB
test_mysql_dsn="${TIKTOK_TEST_MYSQL_DSN:-root:@tcp(127.0.0.1:3306)/?charset=utf8mb4&parseTime=true&loc=UTC}"
dsn_re='^([^:@]*)(:([^@]*))?@tcp\(([^):]+)(:([0-9]+))?\)/'
if [[ ! $test_mysql_dsn =~ $dsn_re ]]; then
  echo "TIKTOK_TEST_MYSQL_DSN must look like user:password@tcp(host:port)/, got $test_mysql_dsn" >&2
  exit 1
fi
mysql_user="${BASH_REMATCH[1]}"
mysql_pass="${BASH_REMATCH[3]}"
mysql_host="${BASH_REMATCH[4]}"
mysql_port="${BASH_REMATCH[6]:-3306}"

sql() {
  local stmt=$1
  shift
  MYSQL_PWD="$mysql_pass" timeout 60 mysql -h "$mysql_host" -P "$mysql_port" -u "$mysql_user" "$@" -e "$stmt"
}

dsn_for() {
  printf '%s:%s@tcp(%s:%s)/%s?charset=utf8mb4&parseTime=true&loc=UTC' "$mysql_user" "$mysql_pass" "$mysql_host" "$mysql_port" "$1"
}
