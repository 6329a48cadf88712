<?php
// SPDX-License-Identifier: MIT
// php.php - a legacy form handler in PHP (php-cgi).
//
// Reads what a typical handler could read for each pass field
// (PASSDIFF_FIELDS, comma-separated): $_GET, $_POST, $_REQUEST and
// $_COOKIE[name], $_FILES[name]['name'] and the uploaded content, arrays
// (name[], name[x]) flattened; writes {"handler": "php", "fields":
// {name: [hex of each value]}} to the file $PASSDIFF_OUT.
function flat($v, &$acc) {
    if (is_array($v)) { foreach ($v as $x) flat($x, $acc); }
    elseif ($v !== null) { $acc[] = bin2hex((string)$v); }
}
$fields = array();
foreach (explode(',', getenv('PASSDIFF_FIELDS')) as $name) {
    $acc = array();
    foreach (array($_GET, $_POST, $_REQUEST, $_COOKIE) as $src)
        if (isset($src[$name])) flat($src[$name], $acc);
    if (isset($_FILES[$name])) {
        flat($_FILES[$name]['name'], $acc);
        $tmp = array();
        flat($_FILES[$name]['tmp_name'], $tmp);
        foreach ($tmp as $t) {
            $t = hex2bin($t);
            if ($t !== '' && is_file($t)) $acc[] = bin2hex(file_get_contents($t));
        }
    }
    $fields[$name] = $acc;
}
file_put_contents(getenv('PASSDIFF_OUT'), json_encode(array('handler' => 'php', 'fields' => $fields)));
