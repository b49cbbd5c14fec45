-- senderguard's PostgreSQL store (PostgreSQL 15): the schema and the lease protocol.
--
-- What lives here and what stays on each node: accounts (settings, state, verified domains),
-- suppression, the audit log, quota windows and their leases, daily delivery counts, bounce
-- counts, tailer positions and once-keys are shared by the fleet. The queue map, the deferred
-- recipients and each node's cache of accounts and suppression stay in the node's LMDB
-- ([store] path): queue ids are per MTA, and the common path reads only the local cache.
-- docs/fleet.md explains the design; this file is what the database holds.
--
-- Format. The file is a list of numbered migrations, each starting at a line
--   -- sg:migration N title
-- and running to the next such line. A runner (senderguardctl store init|migrate; the tests'
-- pg_apply_schema in scripts/lib/pg.sh) applies, in one transaction each and under
-- pg_advisory_xact_lock(5347), every migration whose number is above sg_meta.schema_version,
-- in order; each migration sets sg_meta.schema_version to its number itself. A migration
-- once released is never edited: a change is a new migration at the end. On an empty
-- database `psql --single-transaction -f schema.sql` applies them all.
--
-- Keys (account names, addresses, domains, node names) are at most 1024 bytes: a btree entry
-- must stay under about 2.7 kB, and the programs cap account names at 255 bytes and
-- addresses at 254 (decide/identity.h) anyway. A longer one is refused by a CHECK.
--
-- Objects are created unqualified, in the first schema of the connecting role's search_path:
-- give senderguard a database (or a schema named after its role) of its own.
--
-- Conventions. Times the programs compute (window starts, record times) are Unix seconds
-- (bigint), as in lib/model/records.h; lease expiry is the database's own clock
-- (timestamptz), so that node clocks never decide it. Windows are numbered as
-- lib/model/window.h: 0 minute, 1 hour, 2 day, 3 month. Account "" is the
-- unattributed account of the daily counts; suppression account "" is the global list.
--
-- Locks. Every function that changes a quota window locks that window's row first
-- (FOR NO KEY UPDATE), then the leases of that window; the ones that touch several windows
-- (sg_lease_expire) lock them in key order. So two calls can only wait on one another, never
-- deadlock. A client that groups several calls in one transaction must order them by
-- (account, window, start) too.

-- sg:migration 1 accounts, suppression, audit, quota windows and leases, feedback counts, change log

CREATE TABLE sg_meta (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  schema_version integer NOT NULL,
  -- changes with seq <= this were purged: a node behind it reloads its cache whole.
  changes_purged_through bigint NOT NULL DEFAULT 0
);
INSERT INTO sg_meta (schema_version) VALUES (1);

-- ---- accounts (model/records.h AccountRecord)
CREATE TABLE accounts (
  name text PRIMARY KEY CHECK (octet_length(name) <= 1024),
  -- Per-window override: NULL = the configured default (kInheritLimit), -1 = unlimited
  -- (kUnlimited), else the limit.
  limit_minute bigint CHECK (limit_minute >= -1),
  limit_hour bigint CHECK (limit_hour >= -1),
  limit_day bigint CHECK (limit_day >= -1),
  limit_month bigint CHECK (limit_month >= -1),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'reinstated')),
  status_reason text NOT NULL DEFAULT '',
  status_actor text NOT NULL DEFAULT '',
  status_since bigint NOT NULL DEFAULT 0,
  reinstated_until bigint NOT NULL DEFAULT 0,
  dry_run boolean NOT NULL DEFAULT false,
  created bigint NOT NULL DEFAULT 0,
  tier smallint NOT NULL DEFAULT 1 CHECK (tier BETWEEN 1 AND 5),
  clean_days integer NOT NULL DEFAULT 0 CHECK (clean_days >= 0),
  rated_through bigint NOT NULL DEFAULT 0,
  rates_since bigint NOT NULL DEFAULT 0,
  domains_only boolean NOT NULL DEFAULT false
);

-- The From: domains an account verified (AccountRecord::domains).
CREATE TABLE account_domains (
  account text NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
  domain text NOT NULL CHECK (octet_length(domain) <= 1024),
  PRIMARY KEY (account, domain)
);
CREATE INDEX account_domains_domain ON account_domains (domain);

-- ---- suppression (SuppressionRecord); account '' = global
CREATE TABLE suppression (
  account text NOT NULL DEFAULT '' CHECK (octet_length(account) <= 1024),
  address text NOT NULL CHECK (octet_length(address) <= 1024),
  reason text NOT NULL DEFAULT '',
  actor text NOT NULL DEFAULT '',
  since bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (account, address)
);
CREATE INDEX suppression_address ON suppression (address);

-- ---- audit (AuditEntry), newest first by id
CREATE TABLE audit (
  id bigserial PRIMARY KEY,
  time_us bigint NOT NULL,
  actor text NOT NULL DEFAULT '',
  action text NOT NULL,
  account text NOT NULL DEFAULT '',
  detail text NOT NULL DEFAULT ''
);
CREATE INDEX audit_account ON audit (account, id);

-- ---- quota windows: one row per window instance that anyone leased from.
-- committed: units nodes reported sent (under a valid lease).
-- outstanding: units held by open leases, not yet reported (the sum over the window's open
--   leases of granted - used - returned).
-- The invariant the lease functions keep: committed + outstanding <= lim, at every commit.
-- late: units reported against a lease that had expired or was closed: sent, but outside
--   the pool (docs/fleet.md, "the one case"); never part of committed.
CREATE TABLE quota_windows (
  account text NOT NULL CHECK (octet_length(account) <= 1024),
  win integer NOT NULL CHECK (win BETWEEN 0 AND 3),
  start bigint NOT NULL,
  reset bigint NOT NULL,
  lim bigint NOT NULL CHECK (lim >= 0),   -- the limit of the latest take (for alerts)
  committed bigint NOT NULL DEFAULT 0 CHECK (committed >= 0),
  outstanding bigint NOT NULL DEFAULT 0 CHECK (outstanding >= 0),
  late bigint NOT NULL DEFAULT 0 CHECK (late >= 0),
  alerted integer NOT NULL DEFAULT 0,     -- highest alert threshold (percent) reported
  PRIMARY KEY (account, win, start),
  CHECK (reset > start)
);

-- ---- leases: a block of one window instance held by one node.
-- At most one open lease per node and window instance: a node's further takes top it up.
-- granted = used + returned + reclaimed + (what it still holds, while open); a lease that is
-- not open holds nothing. A lease is valid until expires_at (database clock), which every
-- take, commit and return on it pushes to now() + ttl; once past, it is dead for good: it
-- gives nothing more, accepts no commit, and its held units go back to the pool.
CREATE TABLE leases (
  id bigserial PRIMARY KEY,
  node text NOT NULL CHECK (octet_length(node) <= 1024),
  account text NOT NULL,
  win integer NOT NULL,
  start bigint NOT NULL,
  granted bigint NOT NULL DEFAULT 0,
  used bigint NOT NULL DEFAULT 0 CHECK (used >= 0),          -- committed through it
  returned bigint NOT NULL DEFAULT 0 CHECK (returned >= 0),  -- given back by the node
  reclaimed bigint NOT NULL DEFAULT 0 CHECK (reclaimed >= 0),-- taken back at expiry
  late bigint NOT NULL DEFAULT 0 CHECK (late >= 0),          -- reported after it ended
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'expired')),
  ttl_ms integer NOT NULL CHECK (ttl_ms > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  closed_at timestamptz,
  FOREIGN KEY (account, win, start) REFERENCES quota_windows ON DELETE CASCADE,
  CHECK (used + returned + reclaimed <= granted),
  CHECK (state = 'open' OR used + returned + reclaimed = granted)
);
CREATE UNIQUE INDEX leases_one_open ON leases (account, win, start, node) WHERE state = 'open';
CREATE INDEX leases_open_expiry ON leases (expires_at) WHERE state = 'open';
CREATE INDEX leases_closed ON leases (closed_at) WHERE state <> 'open';

-- Idempotency of the lease calls: the first call with a (node, key) records its answer in the
-- same transaction as its effect; a later call with that key (a retry after a lost reply)
-- changes nothing and gets the same answer. A key reused for another request is an error.
CREATE TABLE lease_ops (
  node text NOT NULL CHECK (octet_length(node) <= 1024),
  idem_key text NOT NULL CHECK (octet_length(idem_key) <= 1024),
  op text NOT NULL CHECK (op IN ('take', 'commit', 'return')),
  request text NOT NULL,        -- the call's other arguments, to refuse a reused key
  lease_id bigint,
  units bigint NOT NULL DEFAULT 0,  -- granted / committed / returned
  status text NOT NULL,
  total bigint,                 -- take: available after; commit: window committed after
  alerts integer[],             -- commit: thresholds reached
  expires_at timestamptz,       -- take: the lease's expiry then
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (node, idem_key)
);
CREATE INDEX lease_ops_at ON lease_ops (at);

-- ---- delivery feedback (the tailers and the ARF ingester of every node)
CREATE TABLE day_counts (            -- DayCountsRecord; day = UTC day number (DayNumber)
  account text NOT NULL CHECK (octet_length(account) <= 1024),
  day bigint NOT NULL,
  delivered bigint NOT NULL DEFAULT 0 CHECK (delivered >= 0),
  deferred bigint NOT NULL DEFAULT 0 CHECK (deferred >= 0),
  hard bigint NOT NULL DEFAULT 0 CHECK (hard >= 0),
  soft bigint NOT NULL DEFAULT 0 CHECK (soft >= 0),
  technical bigint NOT NULL DEFAULT 0 CHECK (technical >= 0),
  expired bigint NOT NULL DEFAULT 0 CHECK (expired >= 0),
  complaints bigint NOT NULL DEFAULT 0 CHECK (complaints >= 0),
  PRIMARY KEY (account, day)
);

CREATE TABLE bounces (               -- BounceRecord: hard bounces toward global suppression
  address text PRIMARY KEY CHECK (octet_length(address) <= 1024),
  count integer NOT NULL DEFAULT 0 CHECK (count >= 0),
  last_account text NOT NULL DEFAULT '',
  last_category text NOT NULL DEFAULT '',
  last_time bigint NOT NULL DEFAULT 0
);

-- A tailer's log position, written in the transaction of the batch it ends (exactly once).
CREATE TABLE positions (
  node text NOT NULL CHECK (octet_length(node) <= 1024),
  source text NOT NULL CHECK (octet_length(source) <= 1024),  -- "file:/var/log/mail.log", ...
  position text NOT NULL,           -- opaque to the store
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (node, source)
);

-- FeedbackBatch::once_key: the SHA-256 of the key and when it was recorded (Unix s).
CREATE TABLE once_keys (
  digest bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
  at bigint NOT NULL
);
CREATE INDEX once_keys_at ON once_keys (at);

-- sg_once(key, now): records the key and returns true, or returns false when it was recorded
-- at most 90 days (store.h kOnceRetention) before `now` or after it (the clock went back):
-- the batch is a duplicate. Call it first in the transaction that applies the batch, so a
-- failed batch records nothing.
CREATE FUNCTION sg_once(p_key bytea, p_now bigint) RETURNS boolean
LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO once_keys AS o (digest, at) VALUES (sha256(p_key), p_now)
    ON CONFLICT (digest) DO UPDATE SET at = EXCLUDED.at
      WHERE o.at < EXCLUDED.at - 90 * 86400
    RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM ins);
$$;

-- ---- the change log, for the nodes' caches
-- One row per change of a cached row (an account's settings or state, its domains, a
-- suppression), in commit order: seq is taken at commit time under one advisory lock
-- (5347, 2), so when a reader sees seq N committed, every seq below N is committed and
-- visible too, and "changes after N" misses nothing. Each change is also sent with
-- NOTIFY sg_changes, payload {"seq": N, "kind": K, "account": A[, "address": X]} (the first
-- 100 of a transaction only; keys are capped, so a payload stays far below NOTIFY's 8000
-- bytes). A listener
-- applies what it is told, and on any gap in seq (or after reconnecting: NOTIFY does not
-- survive a failover) reads sg_changes_since(its last seq).
-- Bulk writers (store copy) run SET LOCAL sg.bulk = 'on': their rows are not logged one by
-- one; the transaction logs a single 'resync' change and nodes reload their caches whole.
CREATE TABLE changes (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL CHECK (kind IN ('account', 'domains', 'suppression', 'resync')),
  account text,
  address text
);

CREATE FUNCTION sg_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_kind text := TG_ARGV[0];
  v_new jsonb;
  v_old jsonb;
  v_keys text[][];
  v_i integer;
  v_seq bigint;
  v_n integer;
BEGIN
  PERFORM pg_advisory_xact_lock(5347, 2);
  IF current_setting('sg.bulk', true) = 'on' THEN
    IF coalesce(current_setting('sg.bulk_logged', true), '') <> 'on' THEN
      INSERT INTO changes (kind) VALUES ('resync') RETURNING seq INTO v_seq;
      PERFORM set_config('sg.bulk_logged', 'on', true);
      PERFORM pg_notify('sg_changes', jsonb_build_object('seq', v_seq, 'kind', 'resync')::text);
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP <> 'DELETE' THEN v_new := to_jsonb(NEW); END IF;
  IF TG_OP <> 'INSERT' THEN v_old := to_jsonb(OLD); END IF;
  -- The row's key; an update that changes the key changes two rows of the cache.
  IF v_kind = 'account' THEN
    v_keys := ARRAY[ARRAY[coalesce(v_new, v_old) ->> 'name', NULL]];
    IF v_new IS NOT NULL AND v_old IS NOT NULL AND v_new ->> 'name' <> v_old ->> 'name' THEN
      v_keys := v_keys || ARRAY[ARRAY[v_old ->> 'name', NULL]];
    END IF;
  ELSE
    v_keys := ARRAY[ARRAY[coalesce(v_new, v_old) ->> 'account',
                          CASE WHEN v_kind = 'suppression' THEN coalesce(v_new, v_old) ->> 'address' END]];
    IF v_new IS NOT NULL AND v_old IS NOT NULL
       AND (v_new ->> 'account', v_new ->> 'address') IS DISTINCT FROM (v_old ->> 'account', v_old ->> 'address') THEN
      v_keys := v_keys || ARRAY[ARRAY[v_old ->> 'account',
                                      CASE WHEN v_kind = 'suppression' THEN v_old ->> 'address' END]];
    END IF;
  END IF;
  FOR v_i IN 1 .. array_length(v_keys, 1) LOOP
    INSERT INTO changes (kind, account, address) VALUES (v_kind, v_keys[v_i][1], v_keys[v_i][2])
      RETURNING seq INTO v_seq;
    v_n := coalesce(nullif(current_setting('sg.notified', true), ''), '0')::integer;
    IF v_n < 100 THEN
      PERFORM pg_notify('sg_changes', jsonb_strip_nulls(jsonb_build_object('seq', v_seq,
        'kind', v_kind, 'account', v_keys[v_i][1], 'address', v_keys[v_i][2]))::text);
      PERFORM set_config('sg.notified', (v_n + 1)::text, true);
    END IF;
  END LOOP;
  RETURN NULL;
END;
$$;

-- Deferred to commit time, so the advisory lock is taken last, when the transaction takes no
-- other lock: holding it earlier could deadlock two writers that then lock each other's rows.
CREATE CONSTRAINT TRIGGER accounts_changed_insert_delete AFTER INSERT OR DELETE ON accounts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sg_log_change('account');
-- The counters of the daily review (clean_days, rated_through) are not cached: not logged.
CREATE CONSTRAINT TRIGGER accounts_changed_update AFTER UPDATE ON accounts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.name, OLD.limit_minute, OLD.limit_hour, OLD.limit_day, OLD.limit_month, OLD.status,
         OLD.status_reason, OLD.status_actor, OLD.status_since, OLD.reinstated_until,
         OLD.dry_run, OLD.created, OLD.tier, OLD.rates_since, OLD.domains_only)
        IS DISTINCT FROM
        (NEW.name, NEW.limit_minute, NEW.limit_hour, NEW.limit_day, NEW.limit_month, NEW.status,
         NEW.status_reason, NEW.status_actor, NEW.status_since, NEW.reinstated_until,
         NEW.dry_run, NEW.created, NEW.tier, NEW.rates_since, NEW.domains_only))
  EXECUTE FUNCTION sg_log_change('account');
CREATE CONSTRAINT TRIGGER account_domains_changed_insert_delete AFTER INSERT OR DELETE
  ON account_domains DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  EXECUTE FUNCTION sg_log_change('domains');
CREATE CONSTRAINT TRIGGER account_domains_changed_update AFTER UPDATE ON account_domains
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION sg_log_change('domains');
CREATE CONSTRAINT TRIGGER suppression_changed_insert_delete AFTER INSERT OR DELETE
  ON suppression DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  EXECUTE FUNCTION sg_log_change('suppression');
CREATE CONSTRAINT TRIGGER suppression_changed_update AFTER UPDATE ON suppression
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION sg_log_change('suppression');

-- The changes after seq p_after, oldest first, at most p_max. When p_after is below what was
-- purged, a single row (purged-through seq, 'resync') says: reload the cache whole.
-- (A whole reload reads max(seq) and the tables in one REPEATABLE READ transaction, then
-- follows from that seq.)
CREATE FUNCTION sg_changes_since(p_after bigint, p_max integer DEFAULT 10000)
RETURNS TABLE (seq bigint, kind text, account text, address text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_purged bigint;
BEGIN
  SELECT m.changes_purged_through INTO v_purged FROM sg_meta m;
  IF p_after < v_purged THEN
    RETURN QUERY SELECT v_purged, 'resync'::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  RETURN QUERY SELECT c.seq, c.kind, c.account, c.address FROM changes c
    WHERE c.seq > p_after ORDER BY c.seq LIMIT p_max;
END;
$$;

-- ---- the lease protocol
-- Each function is one statement for the client (SELECT * FROM sg_lease_...(...)) and one
-- transaction; with synchronous_commit on and a synchronous standby, what it answered
-- survives a failover. Each takes an idempotency key chosen by the node (unique per node
-- and request, e.g. "<boot id>:<counter>"): a retry with the same key after a lost reply
-- changes nothing and answers what the first call answered.

-- sg_lease_take: a block of up to p_want units of one window instance (p_limit units in
-- all, for the whole fleet) for p_node, valid p_ttl_ms after this call (and after each later
-- call on the lease). Answers the lease (NULL when nothing is granted and the node holds no
-- lease of the window), the units granted (0..p_want), the lease's expiry, and what remains
-- available to the fleet after this grant.
--
-- Block sizing: with A = p_limit - committed - outstanding units still available and n the
-- number of nodes holding units of the window (this one included), the grant is
--   min(p_want, A, max(1, floor(A / (2n)))).
-- Far from the limit A/(2n) is large and a node gets the block it asked for (the node sizes
-- p_want to a few seconds of its own traffic). Near the limit no node can take more than
-- half its even share of what is left, so the others always find units, the blocks shrink
-- geometrically down to single units, and units that sit unused in one node's block are at
-- most A/(2n) of the A remaining. The cost is more round trips at the end of a window:
-- about 2n·ln(A) takes to drain A units, against A takes without blocks.
--
-- Expired leases of the window are reclaimed first (held units back to the pool), so a
-- crashed node's units come back at most ttl after its last call on them, whether or not
-- anyone runs sg_lease_expire. A take on a window the node already holds a lease of tops it
-- up (same lease id) and pushes its expiry; a take with p_want = 0 only renews the lease.
-- Raises invalid_parameter_value on bad arguments (an unlimited window is not leased).
CREATE FUNCTION sg_lease_take(p_node text, p_account text, p_win integer, p_start bigint,
                              p_reset bigint, p_limit bigint, p_want bigint, p_idem_key text,
                              p_ttl_ms integer)
RETURNS TABLE (lease_id bigint, granted bigint, expires_at timestamptz, available bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_req text := concat_ws('|', p_account, p_win, p_start, p_reset, p_limit, p_want, p_ttl_ms);
  v_op lease_ops%ROWTYPE;
  v_w quota_windows%ROWTYPE;
  v_reclaimed bigint;
  v_nodes bigint;
  v_avail bigint;
  v_grant bigint;
  v_lease bigint;
  v_new_exp timestamptz;
  v_exp timestamptz;
BEGIN
  IF coalesce(p_node, '') = '' OR p_account IS NULL OR coalesce(p_idem_key, '') = ''
     OR p_win IS NULL OR p_win NOT BETWEEN 0 AND 3 OR p_start IS NULL OR p_reset IS NULL
     OR p_reset <= p_start OR p_limit IS NULL OR p_limit < 0 OR p_want IS NULL OR p_want < 0
     OR p_ttl_ms IS NULL OR p_ttl_ms <= 0 THEN
    RAISE EXCEPTION 'sg_lease_take: bad arguments (node %, account %, window %, start %, reset %, limit %, want %, ttl_ms %)',
      p_node, p_account, p_win, p_start, p_reset, p_limit, p_want, p_ttl_ms
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Claim the key; a concurrent call with the same key waits here for the first one.
  INSERT INTO lease_ops (node, idem_key, op, request, status)
    VALUES (p_node, p_idem_key, 'take', v_req, 'pending') ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    SELECT * INTO v_op FROM lease_ops o WHERE o.node = p_node AND o.idem_key = p_idem_key;
    IF v_op.op <> 'take' OR v_op.request <> v_req THEN
      RAISE EXCEPTION 'sg_lease_take: key % of node % was used for another request', p_idem_key, p_node
        USING ERRCODE = 'unique_violation';
    END IF;
    RETURN QUERY SELECT v_op.lease_id, v_op.units, v_op.expires_at, v_op.total;
    RETURN;
  END IF;

  SELECT * INTO v_w FROM quota_windows w
    WHERE w.account = p_account AND w.win = p_win AND w.start = p_start FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    INSERT INTO quota_windows (account, win, start, reset, lim)
      VALUES (p_account, p_win, p_start, p_reset, p_limit) ON CONFLICT DO NOTHING;
    SELECT * INTO v_w FROM quota_windows w
      WHERE w.account = p_account AND w.win = p_win AND w.start = p_start FOR NO KEY UPDATE;
  END IF;

  WITH r AS (
    UPDATE leases l SET state = 'expired', reclaimed = l.granted - l.used - l.returned,
                        closed_at = now()
      WHERE l.account = p_account AND l.win = p_win AND l.start = p_start
        AND l.state = 'open' AND l.expires_at <= now()
      RETURNING l.reclaimed)
  SELECT coalesce(sum(r.reclaimed), 0) INTO v_reclaimed FROM r;

  SELECT count(*) + 1 INTO v_nodes FROM leases l
    WHERE l.account = p_account AND l.win = p_win AND l.start = p_start AND l.state = 'open'
      AND l.node <> p_node AND l.granted > l.used + l.returned;
  v_avail := greatest(p_limit - v_w.committed - (v_w.outstanding - v_reclaimed), 0);
  v_grant := least(p_want, v_avail, greatest(1, v_avail / (2 * v_nodes)));

  v_new_exp := now() + make_interval(secs => p_ttl_ms / 1000.0);
  UPDATE leases l SET granted = l.granted + v_grant, ttl_ms = p_ttl_ms,
                      expires_at = greatest(l.expires_at, v_new_exp)
    WHERE l.account = p_account AND l.win = p_win AND l.start = p_start
      AND l.node = p_node AND l.state = 'open'
    RETURNING l.id, l.expires_at INTO v_lease, v_exp;
  IF NOT FOUND THEN
    IF v_grant > 0 THEN
      INSERT INTO leases (node, account, win, start, granted, ttl_ms, expires_at)
        VALUES (p_node, p_account, p_win, p_start, v_grant, p_ttl_ms, v_new_exp)
        RETURNING id, expires_at INTO v_lease, v_exp;
    END IF;
  END IF;

  UPDATE quota_windows w SET outstanding = w.outstanding - v_reclaimed + v_grant,
                             lim = p_limit, reset = greatest(w.reset, p_reset)
    WHERE w.account = p_account AND w.win = p_win AND w.start = p_start;
  UPDATE lease_ops o SET lease_id = v_lease, units = v_grant, status = 'ok',
                         total = v_avail - v_grant, expires_at = v_exp
    WHERE o.node = p_node AND o.idem_key = p_idem_key;
  RETURN QUERY SELECT v_lease, v_grant, v_exp, v_avail - v_grant;
END;
$$;

-- _sg_lease_lock: locks the window of lease p_lease, then the lease (the one lock order),
-- and reclaims the lease if it is open but past its expiry. Returns the lease as it then
-- stands, or NULL when there is no such lease of p_node. Internal to commit and return.
CREATE FUNCTION _sg_lease_lock(p_node text, p_lease bigint) RETURNS leases
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_l leases%ROWTYPE;
  v_r bigint;
BEGIN
  SELECT * INTO v_l FROM leases l WHERE l.id = p_lease;
  IF NOT FOUND OR v_l.node <> p_node THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM quota_windows w
    WHERE w.account = v_l.account AND w.win = v_l.win AND w.start = v_l.start FOR NO KEY UPDATE;
  SELECT * INTO v_l FROM leases l WHERE l.id = p_lease FOR NO KEY UPDATE;
  IF v_l.state = 'open' AND v_l.expires_at <= now() THEN
    v_r := v_l.granted - v_l.used - v_l.returned;
    UPDATE leases l SET state = 'expired', reclaimed = v_r, closed_at = now()
      WHERE l.id = p_lease RETURNING * INTO v_l;
    UPDATE quota_windows w SET outstanding = w.outstanding - v_r
      WHERE w.account = v_l.account AND w.win = v_l.win AND w.start = v_l.start;
  END IF;
  RETURN v_l;
END;
$$;

-- sg_lease_commit: p_node reports p_units sent under lease p_lease; they move from the
-- lease's held units to the window's committed count, and the lease lives ttl longer.
-- status: 'ok'; 'over' when p_units exceeds what the lease holds (what it holds is committed,
-- the rest counted late: a node's accounting bug, logged by the caller); 'expired' or
-- 'closed' when the lease is no longer valid: nothing is committed, the units are counted
-- late (the node must take a new lease before it sends more); 'unknown' when p_node has no
-- such lease. committed: the window's committed count after; alerts: the thresholds
-- (80, 90, 100 percent of the limit) this commit reached first.
CREATE FUNCTION sg_lease_commit(p_node text, p_lease bigint, p_units bigint, p_idem_key text)
RETURNS TABLE (status text, units bigint, committed bigint, alerts integer[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_req text := concat_ws('|', p_lease, p_units);
  v_op lease_ops%ROWTYPE;
  v_l leases%ROWTYPE;
  v_status text;
  v_ok bigint := 0;
  v_late bigint := 0;
  v_committed bigint;
  v_lim bigint;
  v_alerted integer;
  v_alerts integer[] := '{}';
BEGIN
  IF coalesce(p_node, '') = '' OR p_lease IS NULL OR p_units IS NULL OR p_units < 0
     OR coalesce(p_idem_key, '') = '' THEN
    RAISE EXCEPTION 'sg_lease_commit: bad arguments (node %, lease %, units %)', p_node, p_lease, p_units
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO lease_ops (node, idem_key, op, request, lease_id, status)
    VALUES (p_node, p_idem_key, 'commit', v_req, p_lease, 'pending') ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    SELECT * INTO v_op FROM lease_ops o WHERE o.node = p_node AND o.idem_key = p_idem_key;
    IF v_op.op <> 'commit' OR v_op.request <> v_req THEN
      RAISE EXCEPTION 'sg_lease_commit: key % of node % was used for another request', p_idem_key, p_node
        USING ERRCODE = 'unique_violation';
    END IF;
    RETURN QUERY SELECT v_op.status, v_op.units, v_op.total, v_op.alerts;
    RETURN;
  END IF;

  v_l := _sg_lease_lock(p_node, p_lease);
  IF v_l.id IS NULL THEN
    v_status := 'unknown';
  ELSIF v_l.state <> 'open' THEN
    v_status := v_l.state;
    v_late := p_units;
  ELSE
    v_ok := least(p_units, v_l.granted - v_l.used - v_l.returned);
    v_late := p_units - v_ok;
    v_status := CASE WHEN v_late > 0 THEN 'over' ELSE 'ok' END;
  END IF;
  IF v_l.id IS NOT NULL THEN
    UPDATE leases l SET used = l.used + v_ok, late = l.late + v_late,
                        expires_at = CASE WHEN l.state = 'open'
                          THEN greatest(l.expires_at, now() + make_interval(secs => l.ttl_ms / 1000.0))
                          ELSE l.expires_at END
      WHERE l.id = p_lease;
    UPDATE quota_windows w SET committed = w.committed + v_ok, outstanding = w.outstanding - v_ok,
                               late = w.late + v_late
      WHERE w.account = v_l.account AND w.win = v_l.win AND w.start = v_l.start
      RETURNING w.committed, w.lim, w.alerted INTO v_committed, v_lim, v_alerted;
    IF v_ok > 0 AND v_lim > 0 THEN
      SELECT coalesce(array_agg(t.pct ORDER BY t.pct), '{}') INTO v_alerts
        FROM unnest(ARRAY[80, 90, 100]) AS t(pct)
        WHERE t.pct > v_alerted AND v_committed::numeric * 100 >= t.pct * v_lim::numeric;
      IF cardinality(v_alerts) > 0 THEN
        UPDATE quota_windows w SET alerted = v_alerts[cardinality(v_alerts)]
          WHERE w.account = v_l.account AND w.win = v_l.win AND w.start = v_l.start;
      END IF;
    END IF;
  END IF;
  UPDATE lease_ops o SET units = v_ok, status = v_status, total = v_committed, alerts = v_alerts
    WHERE o.node = p_node AND o.idem_key = p_idem_key;
  RETURN QUERY SELECT v_status, v_ok, v_committed, v_alerts;
END;
$$;

-- sg_lease_return: p_node gives back p_units (NULL: all) of what lease p_lease holds; a
-- lease left holding nothing is closed. status: 'ok'; 'over' when p_units exceeds what it
-- holds (all it holds is returned); 'expired'/'closed' (nothing to return: an expired
-- lease's units were reclaimed); 'unknown'. units: what was returned.
CREATE FUNCTION sg_lease_return(p_node text, p_lease bigint, p_units bigint, p_idem_key text)
RETURNS TABLE (status text, units bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_req text := concat_ws('|', p_lease, coalesce(p_units::text, 'all'));
  v_op lease_ops%ROWTYPE;
  v_l leases%ROWTYPE;
  v_status text;
  v_held bigint;
  v_u bigint := 0;
BEGIN
  IF coalesce(p_node, '') = '' OR p_lease IS NULL OR p_units < 0 OR coalesce(p_idem_key, '') = '' THEN
    RAISE EXCEPTION 'sg_lease_return: bad arguments (node %, lease %, units %)', p_node, p_lease, p_units
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO lease_ops (node, idem_key, op, request, lease_id, status)
    VALUES (p_node, p_idem_key, 'return', v_req, p_lease, 'pending') ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    SELECT * INTO v_op FROM lease_ops o WHERE o.node = p_node AND o.idem_key = p_idem_key;
    IF v_op.op <> 'return' OR v_op.request <> v_req THEN
      RAISE EXCEPTION 'sg_lease_return: key % of node % was used for another request', p_idem_key, p_node
        USING ERRCODE = 'unique_violation';
    END IF;
    RETURN QUERY SELECT v_op.status, v_op.units;
    RETURN;
  END IF;

  v_l := _sg_lease_lock(p_node, p_lease);
  IF v_l.id IS NULL THEN
    v_status := 'unknown';
  ELSIF v_l.state <> 'open' THEN
    v_status := v_l.state;
  ELSE
    v_held := v_l.granted - v_l.used - v_l.returned;
    v_u := least(coalesce(p_units, v_held), v_held);
    v_status := CASE WHEN p_units > v_held THEN 'over' ELSE 'ok' END;
    UPDATE leases l SET returned = l.returned + v_u,
                        state = CASE WHEN v_held = v_u THEN 'closed' ELSE 'open' END,
                        closed_at = CASE WHEN v_held = v_u THEN now() END,
                        expires_at = greatest(l.expires_at, now() + make_interval(secs => l.ttl_ms / 1000.0))
      WHERE l.id = p_lease;
    UPDATE quota_windows w SET outstanding = w.outstanding - v_u
      WHERE w.account = v_l.account AND w.win = v_l.win AND w.start = v_l.start;
  END IF;
  UPDATE lease_ops o SET units = v_u, status = v_status
    WHERE o.node = p_node AND o.idem_key = p_idem_key;
  RETURN QUERY SELECT v_status, v_u;
END;
$$;

-- sg_lease_expire: reclaims every open lease whose expiry is at or before p_now (default:
-- the database's now), window by window in key order. Returns how many leases and units.
-- Idempotent; any node may run it (every few seconds) so that the pool's figures are current
-- for windows nobody takes from; takes, commits and returns reclaim on their own.
-- A p_now later than the clock only ends leases early, which is safe: their units return to
-- the pool and their nodes' later commits are refused (counted late).
CREATE FUNCTION sg_lease_expire(p_now timestamptz DEFAULT now())
RETURNS TABLE (expired_leases bigint, units bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_win record;
  v_n bigint;
  v_u bigint;
  v_total_n bigint := 0;
  v_total_u bigint := 0;
BEGIN
  FOR v_win IN
    SELECT DISTINCT l.account, l.win, l.start FROM leases l
      WHERE l.state = 'open' AND l.expires_at <= p_now ORDER BY 1, 2, 3
  LOOP
    PERFORM 1 FROM quota_windows w
      WHERE w.account = v_win.account AND w.win = v_win.win AND w.start = v_win.start
      FOR NO KEY UPDATE;
    WITH r AS (
      UPDATE leases l SET state = 'expired', reclaimed = l.granted - l.used - l.returned,
                          closed_at = now()
        WHERE l.account = v_win.account AND l.win = v_win.win AND l.start = v_win.start
          AND l.state = 'open' AND l.expires_at <= p_now
        RETURNING l.reclaimed)
    SELECT count(*), coalesce(sum(r.reclaimed), 0) INTO v_n, v_u FROM r;
    UPDATE quota_windows w SET outstanding = w.outstanding - v_u
      WHERE w.account = v_win.account AND w.win = v_win.win AND w.start = v_win.start;
    v_total_n := v_total_n + v_n;
    v_total_u := v_total_u + v_u;
  END LOOP;
  RETURN QUERY SELECT v_total_n, v_total_u;
END;
$$;

-- sg_purge: housekeeping, as LMDB's (lmdb_housekeeping.cc): ended leases and their
-- idempotency keys a day after they end; window instances (with their leases) as long after
-- their start as LMDB keeps counters (minute 2 h, hour 2 d, day 40 d, month 400 d) once no
-- lease is open; daily counts, bounces and once-keys after 90 days; the change log after
-- 7 days (nodes further behind reload whole). Returns the rows deleted per table.
CREATE FUNCTION sg_purge(p_now timestamptz DEFAULT now())
RETURNS TABLE (what text, deleted bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_unix bigint := floor(extract(epoch FROM p_now));
  v_n bigint;
  v_seq bigint;
BEGIN
  DELETE FROM lease_ops o WHERE o.at < p_now - interval '2 days'
    AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.id = o.lease_id AND l.state = 'open');
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY SELECT 'lease_ops'::text, v_n;
  DELETE FROM leases l WHERE l.state <> 'open' AND l.closed_at < p_now - interval '1 day';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY SELECT 'leases'::text, v_n;
  DELETE FROM quota_windows w
    WHERE w.start + (ARRAY[2 * 3600, 2 * 86400, 40 * 86400, 400 * 86400])[w.win + 1] < v_unix
      AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.account = w.account AND l.win = w.win
                        AND l.start = w.start AND l.state = 'open');
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY SELECT 'quota_windows'::text, v_n;
  DELETE FROM day_counts d WHERE d.day < v_unix / 86400 - 90;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY SELECT 'day_counts'::text, v_n;
  DELETE FROM bounces b WHERE b.last_time < v_unix - 90 * 86400;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY SELECT 'bounces'::text, v_n;
  DELETE FROM once_keys k WHERE k.at < v_unix - 90 * 86400;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY SELECT 'once_keys'::text, v_n;
  -- The change log: keep the newest row even when old, so seq never goes back.
  SELECT max(c.seq) INTO v_seq FROM changes c WHERE c.at < p_now - interval '7 days'
    AND c.seq < (SELECT max(c2.seq) FROM changes c2);
  IF v_seq IS NOT NULL THEN
    UPDATE sg_meta m SET changes_purged_through = greatest(m.changes_purged_through, v_seq);
    DELETE FROM changes c WHERE c.seq <= v_seq;
    GET DIAGNOSTICS v_n = ROW_COUNT;
  ELSE
    v_n := 0;
  END IF;
  RETURN QUERY SELECT 'changes'::text, v_n;
END;
$$;

-- sg:migration 2 timed suspensions: accounts.suspended_until

-- AccountRecord::suspended_until: a suspended account's end (Unix s), 0 = until reinstated.
ALTER TABLE accounts ADD COLUMN suspended_until bigint NOT NULL DEFAULT 0
  CHECK (suspended_until >= 0);
-- The caches hold it: a change of it alone is logged like the other cached columns.
DROP TRIGGER accounts_changed_update ON accounts;
CREATE CONSTRAINT TRIGGER accounts_changed_update AFTER UPDATE ON accounts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.name, OLD.limit_minute, OLD.limit_hour, OLD.limit_day, OLD.limit_month, OLD.status,
         OLD.status_reason, OLD.status_actor, OLD.status_since, OLD.reinstated_until,
         OLD.dry_run, OLD.created, OLD.tier, OLD.rates_since, OLD.domains_only,
         OLD.suspended_until)
        IS DISTINCT FROM
        (NEW.name, NEW.limit_minute, NEW.limit_hour, NEW.limit_day, NEW.limit_month, NEW.status,
         NEW.status_reason, NEW.status_actor, NEW.status_since, NEW.reinstated_until,
         NEW.dry_run, NEW.created, NEW.tier, NEW.rates_since, NEW.domains_only,
         NEW.suspended_until))
  EXECUTE FUNCTION sg_log_change('account');
UPDATE sg_meta SET schema_version = 2;

-- sg:migration 3 the milter's daily figures: day_counts.quota_used, refused, tier

-- DayCountsRecord v2, written by each node's milter once per [monitoring] interval
-- (Store::AddSendingDays, an upsert that adds): the units committed against the quota that
-- UTC day, the SMTP refusals it replied, and the reputation tier in force the last time it
-- accepted or refused mail for the account that day (0: not seen). Purged with the row.
ALTER TABLE day_counts
  ADD COLUMN quota_used bigint NOT NULL DEFAULT 0 CHECK (quota_used >= 0),
  ADD COLUMN refused bigint NOT NULL DEFAULT 0 CHECK (refused >= 0),
  ADD COLUMN tier smallint NOT NULL DEFAULT 0 CHECK (tier >= 0 AND tier <= 255);
UPDATE sg_meta SET schema_version = 3;

-- sg:migration 4 node names: one machine each

-- Who holds each node name ([store.postgresql] node), so that two machines configured with one
-- name (a copied configuration, a cloned VM) are told apart: their leases and log positions
-- would otherwise mix. A holder is the node's LMDB store ([store] path: a random instance id
-- kept there) on one running system (boot: the kernel's boot id and the machine id), so a
-- clone that copied the store is another holder too. The milter and the following tailer
-- claim their name at start and renew the claim while they run (sg_node_seen); another
-- holder may take a name once it was not seen for p_stale_s seconds (a machine replaced or
-- rebooted, its store wiped). Never copied by `store copy`.
CREATE TABLE nodes (
  node     text PRIMARY KEY CHECK (octet_length(node) BETWEEN 1 AND 1024),
  instance text NOT NULL CHECK (octet_length(instance) BETWEEN 1 AND 64),
  boot     text NOT NULL CHECK (octet_length(boot) <= 256),
  host     text NOT NULL CHECK (octet_length(host) <= 1024),
  seen_at  timestamptz NOT NULL
);

-- Claims or renews p_node for (p_instance, p_boot). ok: it is this holder's now. Otherwise
-- the holder's host and how long ago it was seen, and nothing changed.
CREATE FUNCTION sg_node_seen(p_node text, p_instance text, p_boot text, p_host text,
                             p_stale_s integer)
RETURNS TABLE (ok boolean, holder_host text, seen_s_ago bigint)
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO nodes AS n (node, instance, boot, host, seen_at)
  VALUES (p_node, p_instance, p_boot, p_host, now())
  ON CONFLICT (node) DO UPDATE SET instance = EXCLUDED.instance, boot = EXCLUDED.boot,
                                   host = EXCLUDED.host, seen_at = EXCLUDED.seen_at
    WHERE (n.instance = EXCLUDED.instance AND n.boot = EXCLUDED.boot)
       OR n.seen_at < now() - make_interval(secs => greatest(p_stale_s, 1));
  IF FOUND THEN
    RETURN QUERY SELECT true, p_host, 0::bigint;
    RETURN;
  END IF;
  RETURN QUERY SELECT false, n.host, greatest(extract(epoch FROM now() - n.seen_at), 0)::bigint
    FROM nodes n WHERE n.node = p_node;
END;
$$;
UPDATE sg_meta SET schema_version = 4;
