using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AnomalyActors.Archive;
using AnomalyActors.Core.Models;

namespace AnomalyActors.Models;

/// <summary>A published version as <see cref="ModelStore.List"/> finds it.</summary>
/// <param name="Manifest">Null when the version does not verify.</param>
/// <param name="Problem">Why the version does not verify (<see cref="ModelStore.Read"/>'s reason), or null.</param>
public sealed record PublishedModel(string Version, ModelManifest? Manifest, bool IsCurrent, string? Problem);

/// <summary>A model version that is missing, incomplete or damaged, with the reason (naming the file) to show.</summary>
public sealed class ModelRefusedException(string message) : Exception(message);

/// <summary>
/// Model versions in a directory: <c>VERSION/model.json</c> with <c>VERSION/manifest.json</c> beside
/// it, and the file <c>current</c> holding the version in use. The same layout serves the storage all
/// sites share (<c>ROOT/_models</c> of the archive, see <see cref="InArchive"/>) and each node's
/// local copy, so a copy is checked by the same code as the original.
/// <para>
/// Nothing half-written is ever visible: a version is written into a hidden directory, flushed,
/// and renamed to its name, and <c>current</c> is replaced by renaming a flushed hidden file over
/// it. A reader on another machine (an NFS client) therefore sees either the old or the new state,
/// and <see cref="Read"/> still verifies every file against the manifest's checksum, since a copy
/// made with other tools, or a disk, can be wrong.
/// </para>
/// </summary>
public sealed class ModelStore
{
    /// <summary>The directory under an archive root that holds the published models.</summary>
    public const string ArchiveDirectoryName = "_models";

    public const string ModelFileName = "model.json";

    public const string ManifestFileName = "manifest.json";

    public const string CurrentFileName = "current";

    /// <summary>A publish takes well under a second; a hidden directory older than this belongs to one that died.</summary>
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromHours(1);

    /// <param name="directory">The directory holding the versions and <c>current</c>; created on the first write.</param>
    public ModelStore(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    private string CurrentPath => Path.Combine(Directory, CurrentFileName);

    /// <summary>The store every site shares: <c>_models</c> under the archive root.</summary>
    public static ModelStore InArchive(string archiveRoot) => new(Path.Combine(archiveRoot, ArchiveDirectoryName));

    /// <summary>
    /// The version name of a model trained at <paramref name="created"/>: the training time (so
    /// names sort by age) and a digest of the model (so two trainings within one second still get
    /// names of their own). The digest is the first 8 hex digits of the SHA-256 of the model file
    /// written under the time alone, since the file itself holds the version.
    /// </summary>
    public static string VersionFor(DateTimeOffset created, IReadOnlyList<StreamTypeModel> types)
    {
        var stamp = created.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var digest = Sha256Hex(new GlobalModel(stamp, created, types).ToJson());
        return $"{stamp}-{digest[..8]}";
    }

    /// <summary>
    /// Publishes <paramref name="model"/> as a new version and makes it current. Returns its manifest.
    /// </summary>
    /// <param name="sites">The readings of each site the model was trained on, kept in the manifest.</param>
    /// <exception cref="ModelRefusedException">The version is published already.</exception>
    public ModelManifest Publish(GlobalModel model, IReadOnlyList<SiteRange> sites)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sites);
        System.IO.Directory.CreateDirectory(Directory);
        RemoveUnfinished(AbandonedAfter);
        var modelBytes = model.ToJson();
        var manifest = new ModelManifest(model.Version, model.Created, Sha256Hex(modelBytes), modelBytes.Length, sites, ReadCurrent());
        WriteVersion(model.Version, modelBytes, manifest.ToJson());
        SetCurrent(model.Version);
        return manifest;
    }

    /// <summary>The version <c>current</c> names, or null when there is none yet.</summary>
    /// <exception cref="ModelRefusedException"><c>current</c> does not hold a version name.</exception>
    public string? ReadCurrent()
    {
        string text;
        try
        {
            text = Encoding.UTF8.GetString(ReadBounded(CurrentPath, 1024)).Trim();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelRefusedException($"{CurrentPath} cannot be read: {e.Message}");
        }

        return GlobalModel.IsValidVersion(text)
            ? text
            : throw new ModelRefusedException($"{CurrentPath} holds '{Shorten(text)}', which is not a model version.");
    }

    /// <summary>
    /// Reads a version after verifying it: the manifest is complete and names this version, the
    /// model file has the manifest's size and checksum, and it is a complete model of this version.
    /// </summary>
    /// <exception cref="ModelRefusedException">The version is unknown, or any of its files fails a check.</exception>
    public (GlobalModel Model, ModelManifest Manifest) Read(string version) => ReadFrom(VersionDirectory(version), version);

    /// <summary>Every version in the store, oldest first (by training time), each verified.</summary>
    public IReadOnlyList<PublishedModel> List()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        var current = ReadCurrentOrNull();
        var models = new List<PublishedModel>();
        foreach (var path in System.IO.Directory.EnumerateDirectories(Directory))
        {
            var version = Path.GetFileName(path);
            if (version.StartsWith('.'))
            {
                continue;
            }

            try
            {
                var (_, manifest) = Read(version);
                models.Add(new PublishedModel(version, manifest, version == current, null));
            }
            catch (ModelRefusedException e)
            {
                models.Add(new PublishedModel(version, null, version == current, e.Message));
            }
        }

        // Versions that do not verify have no known time; their names start with it.
        return models
            .OrderBy(m => m.Manifest?.Created ?? DateTimeOffset.MaxValue)
            .ThenBy(m => m.Version, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Makes an earlier version current again, after verifying it. Returns the version that was current.
    /// </summary>
    /// <param name="version">The version to return to; null for the one that was current when the current one was published.</param>
    /// <exception cref="ModelRefusedException">No version is current, the current one has no previous, or the version is unknown or does not verify.</exception>
    public string Rollback(string? version)
    {
        var current = ReadCurrent() ?? throw new ModelRefusedException($"no model is current in {Directory}: nothing to roll back.");
        var target = version;
        if (target is null)
        {
            ModelManifest manifest;
            try
            {
                manifest = Read(current).Manifest;
            }
            catch (ModelRefusedException e)
            {
                throw new ModelRefusedException($"{e.Message} Its previous version is unknown: name the version to roll back to.");
            }

            target = manifest.Previous ?? throw new ModelRefusedException($"model {current} was the first published in {Directory}: it has no previous version to roll back to.");
        }

        Read(target);
        if (target != current)
        {
            SetCurrent(target);
        }

        return current;
    }

    /// <summary>
    /// Takes <paramref name="version"/> from <paramref name="source"/> into this store and makes it
    /// current: the files are copied into a hidden directory, verified there, and renamed to the
    /// version. A verified copy of the version already here is used as it is (a rollback to a
    /// version taken before).
    /// </summary>
    /// <exception cref="ModelRefusedException">The copy does not verify; nothing of it is left visible.</exception>
    internal (GlobalModel Model, ModelManifest Manifest) TakeFrom(ModelStore source, string version)
    {
        var shared = source.VersionDirectory(version);
        System.IO.Directory.CreateDirectory(Directory);
        var final = Path.Combine(Directory, version);
        if (System.IO.Directory.Exists(final))
        {
            try
            {
                var here = Read(version);
                SetCurrent(version);
                return here;
            }
            catch (ModelRefusedException)
            {
                // A damaged local copy: the shared one replaces it.
                Remove(version);
            }
        }

        // Checked as read, so that a refusal names the shared file, then again as written.
        var manifestBytes = ReadBytes(version, Path.Combine(shared, ManifestFileName));
        var modelBytes = ReadBytes(version, Path.Combine(shared, ModelFileName));
        Verify(version, shared, manifestBytes, modelBytes);
        var taken = WriteVersion(version, modelBytes, manifestBytes);
        SetCurrent(version);
        return taken;
    }

    /// <summary>
    /// Takes a version whose files came another way (from another member of the site's cluster)
    /// into this store and makes it current, after the checks a copy from the shared storage gets.
    /// </summary>
    /// <param name="from">Where the files came from, for the reasons of a refusal.</param>
    /// <exception cref="ModelRefusedException">The files do not verify; nothing of them is left visible.</exception>
    internal (GlobalModel Model, ModelManifest Manifest) TakeFromBytes(string version, byte[] modelBytes, byte[] manifestBytes, string from)
    {
        if (!GlobalModel.IsValidVersion(version))
        {
            throw new ModelRefusedException($"'{Shorten(version)}' from {from} is not a model version.");
        }

        Verify(version, from, manifestBytes, modelBytes);
        System.IO.Directory.CreateDirectory(Directory);
        if (System.IO.Directory.Exists(Path.Combine(Directory, version)))
        {
            Remove(version);
        }

        var taken = WriteVersion(version, modelBytes, manifestBytes);
        SetCurrent(version);
        return taken;
    }

    /// <summary>The files of a version as they are stored (checked), to hand them on.</summary>
    /// <exception cref="ModelRefusedException">The version is missing or does not verify.</exception>
    internal (byte[] Model, byte[] Manifest) BytesOf(string version)
    {
        var location = VersionDirectory(version);
        var manifestBytes = ReadBytes(version, Path.Combine(location, ManifestFileName));
        var modelBytes = ReadBytes(version, Path.Combine(location, ModelFileName));
        Verify(version, location, manifestBytes, modelBytes);
        return (modelBytes, manifestBytes);
    }

    /// <summary>
    /// Deletes versions beyond the <paramref name="keep"/> newest verified ones, except
    /// <paramref name="inUse"/>; versions that do not verify go too. For a node's local copies,
    /// of which only the recent are worth a rollback.
    /// </summary>
    internal void Prune(int keep, string? inUse)
    {
        var models = List();
        var kept = models
            .Where(m => m.Manifest is not null)
            .OrderByDescending(m => m.Manifest!.Created)
            .Take(keep)
            .Select(m => m.Version)
            .ToHashSet(StringComparer.Ordinal);
        foreach (var model in models)
        {
            if (model.Version != inUse && !kept.Contains(model.Version))
            {
                Remove(model.Version);
            }
        }
    }

    /// <summary>Hides a version at once (a rename), then deletes it: a reader never sees part of one.</summary>
    private void Remove(string version)
    {
        var hidden = Path.Combine(Directory, DurableFiles.HiddenName(version));
        System.IO.Directory.Move(Path.Combine(Directory, version), hidden);
        System.IO.Directory.Delete(hidden, recursive: true);
    }

    /// <summary>Deletes hidden files and directories (writes that did not finish) last changed before <paramref name="olderThan"/> ago.</summary>
    internal void RemoveUnfinished(TimeSpan olderThan)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return;
        }

        var before = DateTime.UtcNow - olderThan;
        foreach (var entry in new DirectoryInfo(Directory).EnumerateFileSystemInfos(".*"))
        {
            if (entry.LastWriteTimeUtc <= before)
            {
                DurableFiles.TryDelete(entry.FullName);
            }
        }
    }

    /// <summary>Writes a version's two files into a hidden directory, verifies them there, and renames it to the version.</summary>
    private (GlobalModel Model, ModelManifest Manifest) WriteVersion(string version, byte[] modelBytes, byte[] manifestBytes)
    {
        var final = Path.Combine(Directory, version);
        var hidden = Path.Combine(Directory, DurableFiles.HiddenName(version));
        System.IO.Directory.CreateDirectory(hidden);
        try
        {
            DurableFiles.WriteNew(Path.Combine(hidden, ModelFileName), modelBytes);
            DurableFiles.WriteNew(Path.Combine(hidden, ManifestFileName), manifestBytes);
            DurableFiles.SyncDirectory(hidden);
            var written = ReadFrom(hidden, version);

            // rename(2) would replace an empty directory of the same name.
            if (System.IO.Directory.Exists(final))
            {
                throw new ModelRefusedException($"model {version}: {final} exists already; a published version is never replaced.");
            }

            System.IO.Directory.Move(hidden, final);
            DurableFiles.SyncDirectory(Directory);
            return written;
        }
        catch
        {
            DurableFiles.TryDelete(hidden);
            throw;
        }
    }

    private void SetCurrent(string version) => DurableFiles.Replace(CurrentPath, Encoding.UTF8.GetBytes(version + "\n"));

    private string? ReadCurrentOrNull()
    {
        try
        {
            return ReadCurrent();
        }
        catch (ModelRefusedException)
        {
            return null;
        }
    }

    /// <summary>The directory of a version of this store.</summary>
    /// <exception cref="ModelRefusedException">The name is not a version's, or there is no such version.</exception>
    private string VersionDirectory(string version)
    {
        if (!GlobalModel.IsValidVersion(version))
        {
            throw new ModelRefusedException($"'{Shorten(version)}' is not a model version: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        var directory = Path.Combine(Directory, version);
        return System.IO.Directory.Exists(directory)
            ? directory
            : throw new ModelRefusedException($"model {version}: no such version in {Directory}.");
    }

    /// <summary>Reads and verifies the files of <paramref name="version"/> in <paramref name="location"/> (its directory, or the hidden one it is being written into).</summary>
    private static (GlobalModel Model, ModelManifest Manifest) ReadFrom(string location, string version)
    {
        var manifestBytes = ReadBytes(version, Path.Combine(location, ManifestFileName));
        var modelBytes = ReadBytes(version, Path.Combine(location, ModelFileName));
        return Verify(version, location, manifestBytes, modelBytes);
    }

    /// <summary>The checks of <see cref="Read"/> on the bytes of a version's files, read from <paramref name="location"/> (named in the reasons).</summary>
    private static (GlobalModel Model, ModelManifest Manifest) Verify(string version, string location, byte[] manifestBytes, byte[] modelBytes)
    {
        var manifestPath = Path.Combine(location, ManifestFileName);
        var modelPath = Path.Combine(location, ModelFileName);
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Parse(manifestBytes);
        }
        catch (FormatException e)
        {
            throw new ModelRefusedException($"model {version}: {manifestPath} is not a complete manifest: {e.Message}");
        }

        if (manifest.Version != version)
        {
            throw new ModelRefusedException($"model {version}: {manifestPath} is the manifest of model {manifest.Version} (copied into the wrong directory?).");
        }

        if (modelBytes.Length != manifest.Bytes)
        {
            throw new ModelRefusedException($"model {version}: {modelPath} has {modelBytes.Length} bytes but its manifest says {manifest.Bytes} (truncated or partly copied).");
        }

        var sha256 = Sha256Hex(modelBytes);
        if (sha256 != manifest.Sha256)
        {
            throw new ModelRefusedException($"model {version}: {modelPath} has sha256 {sha256} but its manifest says {manifest.Sha256} (corrupted or partly copied).");
        }

        GlobalModel model;
        try
        {
            model = GlobalModel.Parse(modelBytes);
        }
        catch (ModelFormatException e)
        {
            throw new ModelRefusedException($"model {version}: {modelPath} matches its manifest but is not a model this build reads: {e.Message}");
        }

        if (model.Version != version)
        {
            throw new ModelRefusedException($"model {version}: {modelPath} is model {model.Version} (copied into the wrong directory?).");
        }

        return (model, manifest);
    }

    private static byte[] ReadBytes(string version, string path)
    {
        try
        {
            return ReadBounded(path, MaxFileBytes);
        }
        catch (FileNotFoundException)
        {
            throw new ModelRefusedException($"model {version}: {path} is missing (incompletely copied or deleted).");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelRefusedException($"model {version}: {path} cannot be read: {e.Message}");
        }
    }

    /// <summary>
    /// The most a model or manifest file may hold: models are a few numbers per stream type, and a
    /// node must not read a file of any size someone put in the shared storage into its memory.
    /// </summary>
    public const int MaxFileBytes = 16 * 1024 * 1024;

    private static byte[] ReadBounded(string path, int limit)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (file.Length > limit)
        {
            throw new IOException($"{path} has {file.Length:N0} bytes, more than the {limit:N0} a model's files may have");
        }

        var bytes = new byte[file.Length];
        file.ReadExactly(bytes);
        return bytes;
    }

    private static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
