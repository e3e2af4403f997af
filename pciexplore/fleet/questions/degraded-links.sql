-- PCIe links that trained slower or narrower than the function can go: lspci -vv marks them
-- "(downgraded)" in LnkSta.  Like lspci, ports that face a slot (Root Ports, Downstream Ports,
-- PCI/PCI-X to PCIe bridges) are left out: a slower card in the slot is not a fault of the port.
-- Speeds are the PCI_EXP_LNKCAP_SLS / PCI_EXP_LNKSTA_CLS encodings (1 = 2.5GT/s, 2 = 5GT/s,
-- 3 = 8GT/s, 4 = 16GT/s, 5 = 32GT/s, 6 = 64GT/s); widths are lanes.  Latest capture of each host.
WITH link AS (
    SELECT capture, host, address,
           max(value) FILTER (WHERE field = 'PCI_EXP_FLAGS_TYPE') AS port_type,
           max(value) FILTER (WHERE field = 'PCI_EXP_LNKCAP_SLS') AS max_speed,
           max(value) FILTER (WHERE field = 'PCI_EXP_LNKSTA_CLS') AS speed,
           max(value) FILTER (WHERE field = 'PCI_EXP_LNKCAP_MLW') AS max_width,
           max(value) FILTER (WHERE field = 'PCI_EXP_LNKSTA_NLW') AS width
    FROM fields
    WHERE capability = 'exp'
      AND field IN ('PCI_EXP_FLAGS_TYPE', 'PCI_EXP_LNKCAP_SLS', 'PCI_EXP_LNKSTA_CLS',
                    'PCI_EXP_LNKCAP_MLW', 'PCI_EXP_LNKSTA_NLW')
    GROUP BY capture, host, address
)
SELECT host, address, f.vendor_id, f.device_id, f.device_name, f.driver,
       speed, max_speed, width, max_width,
       speed < max_speed AS speed_downgraded, width < max_width AS width_downgraded
FROM link JOIN functions f USING (capture, host, address) JOIN latest USING (capture, host)
WHERE (speed < max_speed OR width < max_width)
  AND port_type NOT IN (4, 6, 8)  -- PCI_EXP_TYPE_ROOT_PORT, _DOWNSTREAM, _PCIE_BRIDGE
ORDER BY host, address
