<#
.SYNOPSIS
Stops and removes the VaultMesh Relay service installed by install-service.ps1. Keeps the database
unless -RemoveData is given. Run in an administrator PowerShell.
#>
[CmdletBinding()]
param(
    [string]$ServiceName = 'vaultmesh-relay',
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'VaultMesh Relay'),
    [string]$DataDir = (Join-Path $env:ProgramData 'VaultMesh Relay'),
    [switch]$RemoveData
)
$ErrorActionPreference = 'Stop'

if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
    # shawl turns the stop request into Ctrl-C; the relay finishes writes and exits.
    Stop-Service -Name $ServiceName -ErrorAction SilentlyContinue
    & sc.exe delete $ServiceName | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "sc.exe delete failed with exit code $LASTEXITCODE" }
    Write-Host "Removed service $ServiceName"
} else {
    Write-Host "No service $ServiceName"
}
if (Test-Path -LiteralPath $InstallDir) {
    Remove-Item -Recurse -Force -LiteralPath $InstallDir
}
if ($RemoveData) {
    Remove-Item -Recurse -Force -LiteralPath $DataDir -ErrorAction SilentlyContinue
    Write-Host "Removed $DataDir"
} else {
    Write-Host "Kept the database in $DataDir (pass -RemoveData to delete it)"
}
