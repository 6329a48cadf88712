# mailverify: add mailverifyd to Postfix's milter lists (Postfix >= 3.0), after
# the milters already there (OpenDKIM, OpenDMARC, ...); run once, as root
mv='{ unix:mailverifyd/mailverifyd.sock, default_action=tempfail, command_timeout=30s }'
for list in smtpd_milters non_smtpd_milters; do
    old=$(postconf -h "$list")
    postconf -e "$list = ${old:+$old, }$mv"
done
