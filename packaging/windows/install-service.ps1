<#
.SYNOPSIS
Installs VaultMesh Relay as a Windows service through shawl, started automatically and restarted
on failure, with its database in ProgramData. Run from the extracted release folder in an
administrator PowerShell.
#>
[CmdletBinding()]
param(
    [string]$ServiceName = 'vaultmesh-relay',
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'VaultMesh Relay'),
    [string]$DataDir = (Join-Path $env:ProgramData 'VaultMesh Relay'),
    [string]$Listen = '127.0.0.1:3030',
    # More settings as VAULTMESH_RELAY_*=value strings, e.g. @('VAULTMESH_RELAY_TTL_HOURS=168').
    [string[]]$Environment = @()
)
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal(
    [Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script in an administrator PowerShell'
}
foreach ($file in 'vaultmesh-relay.exe', 'shawl.exe') {
    if (-not (Test-Path -LiteralPath (Join-Path $PSScriptRoot $file))) {
        throw "Missing $file next to this script: run it from the extracted release folder"
    }
}
if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
    throw "Service $ServiceName exists already: run uninstall-service.ps1 first"
}

New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
Copy-Item -Force -LiteralPath (Join-Path $PSScriptRoot 'vaultmesh-relay.exe') -Destination $InstallDir
Copy-Item -Force -LiteralPath (Join-Path $PSScriptRoot 'shawl.exe') -Destination $InstallDir
$relay = Join-Path $InstallDir 'vaultmesh-relay.exe'
$shawl = Join-Path $InstallDir 'shawl.exe'

# The database folder: only SYSTEM, Administrators and the service (LocalService) may use it.
New-Item -ItemType Directory -Force -Path $DataDir | Out-Null
& icacls.exe $DataDir /inheritance:r /grant:r `
    '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-19:(OI)(CI)M' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls failed to restrict $DataDir" }
$logDir = Join-Path $DataDir 'logs'
New-Item -ItemType Directory -Force -Path $logDir | Out-Null

# The relay gets no flags: a flag on the command line wins over the environment, so every setting
# lives in the service's environment, where an operator can change it later (see SERVICE.md).
$db = Join-Path $DataDir 'relay.db'
$settings = [ordered]@{ VAULTMESH_RELAY_LISTEN = $Listen; VAULTMESH_RELAY_DB = $db; NO_COLOR = '1' }
foreach ($setting in $Environment) {
    $name, $value = $setting -split '=', 2
    if ($name -notmatch '^VAULTMESH_RELAY_[A-Z0-9_]+$' -or $null -eq $value) {
        throw "-Environment takes VAULTMESH_RELAY_NAME=value strings, not '$setting'"
    }
    $settings[$name] = $value
}

# shawl stops the relay with Ctrl-C (its default) and restarts it when it exits with a non-zero
# status; on Ctrl-C the relay finishes writes, checkpoints the database and exits 0.
& $shawl add --name $ServiceName --cwd $DataDir --log-dir $logDir --stop-timeout 30000 -- $relay
if ($LASTEXITCODE -ne 0) { throw "shawl add failed with exit code $LASTEXITCODE" }

# The service's environment: the REG_MULTI_SZ value "Environment" of its registry key, which the
# Service Control Manager gives shawl and shawl passes on to the relay.
$lines = [string[]]@($settings.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" })
New-ItemProperty -Force -Path "HKLM:\SYSTEM\CurrentControlSet\Services\$ServiceName" `
    -Name 'Environment' -PropertyType MultiString -Value $lines | Out-Null

& sc.exe config $ServiceName start= auto obj= 'NT AUTHORITY\LocalService' `
    DisplayName= 'VaultMesh Relay' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe config failed with exit code $LASTEXITCODE" }
& sc.exe description $ServiceName 'Rendezvous and forwarding for VaultMesh end-to-end-encrypted sync' | Out-Null
& sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/30000 | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe failure failed with exit code $LASTEXITCODE" }
& sc.exe failureflag $ServiceName 1 | Out-Null

Start-Service -Name $ServiceName
Write-Host "Started $ServiceName; database $db, logs $logDir"
$port = ($Listen -split ':')[-1]
try {
    Start-Sleep -Seconds 2
    (Invoke-WebRequest -UseBasicParsing "http://127.0.0.1:$port/health").Content | Write-Host
} catch {
    Write-Warning "No answer on /health yet: see the logs in $logDir"
}
