-- Every decoded field whose value differs from the golden host's (the host named by $golden; the
-- latest capture of each host), function by function at the same address, and functions one side
-- has and the other lacks (register and field empty, golden or value NULL).
-- Fields that legitimately differ between machines (BAR addresses, MSI message data, status bits)
-- are listed too: filter them in your own query, e.g. AND register NOT LIKE 'PCI_BASE_ADDRESS%'.
WITH cur AS (
    SELECT f.* FROM fields f JOIN latest USING (capture, host)
),
golden AS (
    SELECT * FROM cur WHERE host = $golden
),
others AS (
    SELECT * FROM cur WHERE host <> $golden
),
golden_fns AS (SELECT DISTINCT address FROM golden),
other_fns AS (SELECT DISTINCT host, address FROM others)
SELECT o.host, o.address, o.capability, o.register, o.field, g.value AS golden, o.value
FROM others o JOIN golden g
  ON o.address = g.address AND o.capability = g.capability AND o.cap_offset = g.cap_offset
 AND o.register = g.register AND coalesce(o.field, '') = coalesce(g.field, '')
WHERE o.value IS DISTINCT FROM g.value
UNION ALL  -- functions the golden host has and this host lacks
SELECT h.host, gf.address, NULL, NULL, NULL, NULL, NULL
FROM (SELECT DISTINCT host FROM others) h CROSS JOIN golden_fns gf
WHERE NOT EXISTS (SELECT 1 FROM other_fns x WHERE x.host = h.host AND x.address = gf.address)
UNION ALL  -- functions this host has and the golden one lacks
SELECT x.host, x.address, NULL, NULL, NULL, NULL, NULL
FROM other_fns x WHERE x.address NOT IN (SELECT address FROM golden_fns)
ORDER BY 1, 2, 3, 4, 5
