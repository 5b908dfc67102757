/**
 * The platforms the relay ships for: Deno targets, archive format and the files each archive holds
 * besides the binary.
 *
 * @module
 */

/** A release platform, as it appears in archive names. */
export type PlatformName = "linux-x64" | "linux-arm64" | "macos-universal" | "windows-x64";

/** A file taken from the repository into an archive. */
export interface PackagedFile {
  /** Path relative to the repository root. */
  readonly from: string;
  /** Path inside the archive's top folder. */
  readonly to: string;
}

/** How one platform is built and laid out. */
export interface Platform {
  readonly name: PlatformName;
  /** Human name for the download page. */
  readonly label: string;
  /** `deno compile --target` values; more than one are merged into one universal binary. */
  readonly targets: readonly string[];
  readonly archive: "tar.gz" | "zip";
  readonly binary: "vaultmesh-relay" | "vaultmesh-relay.exe";
  /** README, LICENSE and the platform's service files. */
  readonly files: readonly PackagedFile[];
  /** Inputs besides a `denort` per target that the platform needs (see `inputs.ts`). */
  readonly needs: readonly ("lipo" | "shawl")[];
}

const COMMON: readonly PackagedFile[] = [
  { from: "README.md", to: "README.md" },
  { from: "LICENSE", to: "LICENSE" },
];

const SYSTEMD: readonly PackagedFile[] = [
  { from: "packaging/systemd/vaultmesh-relay.service", to: "systemd/vaultmesh-relay.service" },
  { from: "packaging/systemd/vaultmesh-relay.env", to: "systemd/vaultmesh-relay.env" },
  { from: "packaging/systemd/README.md", to: "systemd/README.md" },
];

/** Every platform, in the order of the download page. */
export const PLATFORMS: readonly Platform[] = [
  {
    name: "linux-x64",
    label: "Linux x86-64",
    targets: ["x86_64-unknown-linux-gnu"],
    archive: "tar.gz",
    binary: "vaultmesh-relay",
    files: [...COMMON, ...SYSTEMD],
    needs: [],
  },
  {
    name: "linux-arm64",
    label: "Linux ARM64 (aarch64)",
    targets: ["aarch64-unknown-linux-gnu"],
    archive: "tar.gz",
    binary: "vaultmesh-relay",
    files: [...COMMON, ...SYSTEMD],
    needs: [],
  },
  {
    name: "macos-universal",
    label: "macOS (Apple silicon and Intel)",
    targets: ["aarch64-apple-darwin", "x86_64-apple-darwin"],
    archive: "tar.gz",
    binary: "vaultmesh-relay",
    files: COMMON,
    needs: ["lipo"],
  },
  {
    name: "windows-x64",
    label: "Windows x86-64",
    targets: ["x86_64-pc-windows-msvc"],
    archive: "zip",
    binary: "vaultmesh-relay.exe",
    files: [
      ...COMMON,
      { from: "packaging/windows/install-service.ps1", to: "install-service.ps1" },
      { from: "packaging/windows/uninstall-service.ps1", to: "uninstall-service.ps1" },
      { from: "packaging/windows/README.md", to: "SERVICE.md" },
      { from: "packaging/windows/THIRD-PARTY-NOTICES.txt", to: "THIRD-PARTY-NOTICES.txt" },
    ],
    needs: ["shawl"],
  },
];

/** Looks a platform up by name. */
export function platformNamed(name: string): Platform | undefined {
  return PLATFORMS.find((platform) => platform.name === name);
}

/** `vaultmesh-relay-v0.1.0-linux-x64`: the archive's top folder and its name without extension. */
export function archiveStem(version: string, platform: Platform): string {
  return `vaultmesh-relay-v${version}-${platform.name}`;
}

/** `vaultmesh-relay-v0.1.0-linux-x64.tar.gz`. */
export function archiveFileName(version: string, platform: Platform): string {
  return `${archiveStem(version, platform)}.${platform.archive}`;
}
