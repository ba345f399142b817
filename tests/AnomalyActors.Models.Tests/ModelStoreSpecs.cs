using System.Security.Cryptography;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Models.Tests;

public sealed class ModelStoreSpecs
{
    private static ModelStore NewStore() => ModelStore.InArchive(ScratchDirectory.Create("anomaly-actors-models"));

    private static string FileOf(ModelStore store, string version, string file) => Path.Combine(store.Directory, version, file);

    [Fact]
    public void Should_read_back_a_published_model_as_it_was_written()
    {
        // Arrange
        var store = NewStore();
        var model = SampleModels.At(15);

        // Act
        var published = store.Publish(model, SampleModels.Sites);
        var (read, manifest) = store.Read(model.Version);

        // Assert
        Assert.Equal(model.ToJson(), read.ToJson());
        Assert.Equal(published.ToJson(), manifest.ToJson());
        Assert.Equal(model.Version, store.ReadCurrent());
        var bytes = File.ReadAllBytes(FileOf(store, model.Version, ModelStore.ModelFileName));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), manifest.Sha256);
        Assert.Equal(bytes.Length, manifest.Bytes);
        Assert.Equal(SampleModels.Sites, manifest.Sites);
        Assert.Equal(model.Created, manifest.Created);
        Assert.Null(manifest.Previous);
        Assert.Equal([model.Version, ModelStore.CurrentFileName], Directory.EnumerateFileSystemEntries(store.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Should_record_the_version_that_was_current_as_the_previous_one()
    {
        // Arrange
        var store = NewStore();
        var first = SampleModels.At(1);
        var second = SampleModels.At(2);

        // Act
        store.Publish(first, SampleModels.Sites);
        store.Publish(second, SampleModels.Sites);

        // Assert
        Assert.Equal(first.Version, store.Read(second.Version).Manifest.Previous);
        Assert.Equal(second.Version, store.ReadCurrent());
    }

    [Fact]
    public void Should_refuse_to_publish_a_version_twice()
    {
        // Arrange
        var store = NewStore();
        var model = SampleModels.At(3);
        store.Publish(model, SampleModels.Sites);
        store.Publish(SampleModels.At(4), SampleModels.Sites);

        // Act
        var error = Assert.Throws<ModelRefusedException>(() => store.Publish(model, []));

        // Assert
        Assert.Contains("exists already", error.Message, StringComparison.Ordinal);
        Assert.Equal(SampleModels.At(4).Version, store.ReadCurrent());
        Assert.Equal(SampleModels.Sites, store.Read(model.Version).Manifest.Sites);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(store.Directory), e => Path.GetFileName(e).StartsWith('.'));
    }

    [Fact]
    public void Should_refuse_a_model_file_with_one_byte_changed()
    {
        // Arrange
        var store = NewStore();
        var model = SampleModels.At(5);
        store.Publish(model, SampleModels.Sites);
        var path = FileOf(store, model.Version, ModelStore.ModelFileName);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        // Act
        var error = Assert.Throws<ModelRefusedException>(() => store.Read(model.Version));

        // Assert
        Assert.StartsWith($"model {model.Version}: {path} has sha256 ", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("(corrupted or partly copied).", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_refuse_a_truncated_model_file()
    {
        // Arrange
        var store = NewStore();
        var model = SampleModels.At(6);
        var manifest = store.Publish(model, SampleModels.Sites);
        var path = FileOf(store, model.Version, ModelStore.ModelFileName);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..100]);

        // Act
        var error = Assert.Throws<ModelRefusedException>(() => store.Read(model.Version));

        // Assert
        Assert.Equal($"model {model.Version}: {path} has 100 bytes but its manifest says {manifest.Bytes} (truncated or partly copied).", error.Message);
    }

    [Fact]
    public void Should_refuse_a_model_file_too_large_to_be_a_model_without_reading_it()
    {
        // Arrange: someone left a huge file where the model is.
        var store = NewStore();
        var model = SampleModels.At(12);
        store.Publish(model, SampleModels.Sites);
        var path = FileOf(store, model.Version, ModelStore.ModelFileName);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(ModelStore.MaxFileBytes + 1L);
        }

        // Act
        var error = Assert.Throws<ModelRefusedException>(() => store.Read(model.Version));

        // Assert
        Assert.Contains($"{path} cannot be read", error.Message, StringComparison.Ordinal);
        Assert.Contains("more than the 16,777,216 a model's files may have", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_refuse_a_version_without_its_manifest()
    {
        // Arrange
        var store = NewStore();
        var model = SampleModels.At(7);
        store.Publish(model, SampleModels.Sites);
        var path = FileOf(store, model.Version, ModelStore.ManifestFileName);
        File.Delete(path);

        // Act
        var error = Assert.Throws<ModelRefusedException>(() => store.Read(model.Version));

        // Assert
        Assert.Equal($"model {model.Version}: {path} is missing (incompletely copied or deleted).", error.Message);
    }

    [Fact]
    public void Should_refuse_a_manifest_of_another_version()
    {
        // Arrange
        var store = NewStore();
        var model = SampleModels.At(8);
        var other = SampleModels.At(9);
        store.Publish(model, SampleModels.Sites);
        store.Publish(other, SampleModels.Sites);
        var path = FileOf(store, model.Version, ModelStore.ManifestFileName);
        File.Copy(FileOf(store, other.Version, ModelStore.ManifestFileName), path, overwrite: true);

        // Act
        var error = Assert.Throws<ModelRefusedException>(() => store.Read(model.Version));

        // Assert
        Assert.Equal($"model {model.Version}: {path} is the manifest of model {other.Version} (copied into the wrong directory?).", error.Message);
    }

    [Fact]
    public void Should_refuse_an_unknown_version_and_a_name_that_is_no_version()
    {
        // Arrange
        var store = NewStore();
        store.Publish(SampleModels.At(10), SampleModels.Sites);

        // Act
        var unknown = Assert.Throws<ModelRefusedException>(() => store.Read("20261207T050000Z-00000000"));
        var outside = Assert.Throws<ModelRefusedException>(() => store.Read("../_models"));

        // Assert
        Assert.Equal($"model 20261207T050000Z-00000000: no such version in {store.Directory}.", unknown.Message);
        Assert.StartsWith("'../_models' is not a model version", outside.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_roll_back_to_the_version_current_before_the_current_one_by_default()
    {
        // Arrange
        var store = NewStore();
        var first = SampleModels.At(11);
        var second = SampleModels.At(12);
        var third = SampleModels.At(13);
        foreach (var model in new[] { first, second, third })
        {
            store.Publish(model, SampleModels.Sites);
        }

        // Act
        var wasCurrent = store.Rollback(null);
        var afterOne = store.ReadCurrent();
        store.Rollback(null);

        // Assert
        Assert.Equal(third.Version, wasCurrent);
        Assert.Equal(second.Version, afterOne);
        Assert.Equal(first.Version, store.ReadCurrent());
        var error = Assert.Throws<ModelRefusedException>(() => store.Rollback(null));
        Assert.Contains("has no previous version", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_roll_back_to_a_named_version()
    {
        // Arrange
        var store = NewStore();
        var first = SampleModels.At(14);
        var second = SampleModels.At(15);
        var third = SampleModels.At(16);
        foreach (var model in new[] { first, second, third })
        {
            store.Publish(model, SampleModels.Sites);
        }

        // Act
        store.Rollback(first.Version);

        // Assert: a later publish names the version rolled back to as its previous.
        Assert.Equal(first.Version, store.ReadCurrent());
        var fourth = SampleModels.At(17);
        Assert.Equal(first.Version, store.Publish(fourth, SampleModels.Sites).Previous);
    }

    [Fact]
    public void Should_refuse_to_roll_back_to_an_unknown_or_damaged_version()
    {
        // Arrange
        var store = NewStore();
        var damaged = SampleModels.At(18);
        var current = SampleModels.At(19);
        store.Publish(damaged, SampleModels.Sites);
        store.Publish(current, SampleModels.Sites);
        File.Delete(FileOf(store, damaged.Version, ModelStore.ModelFileName));

        // Act
        var unknown = Assert.Throws<ModelRefusedException>(() => store.Rollback("20261207T050000Z-00000000"));
        var missingFile = Assert.Throws<ModelRefusedException>(() => store.Rollback(null));

        // Assert
        Assert.Contains("no such version", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("model.json is missing", missingFile.Message, StringComparison.Ordinal);
        Assert.Equal(current.Version, store.ReadCurrent());
    }

    [Fact]
    public void Should_list_versions_oldest_first_with_the_current_one_and_each_problem()
    {
        // Arrange
        var store = NewStore();
        var later = SampleModels.At(21);
        var earlier = SampleModels.At(20);
        var damaged = SampleModels.At(22);
        store.Publish(later, SampleModels.Sites);
        store.Publish(earlier, SampleModels.Sites);
        store.Publish(damaged, SampleModels.Sites);
        File.Delete(FileOf(store, damaged.Version, ModelStore.ManifestFileName));
        store.Rollback(later.Version);

        // Act
        var listed = store.List();

        // Assert
        Assert.Equal([earlier.Version, later.Version, damaged.Version], listed.Select(m => m.Version));
        Assert.Equal([false, true, false], listed.Select(m => m.IsCurrent));
        Assert.Equal(earlier.Created, listed[0].Manifest?.Created);
        Assert.Null(listed[0].Problem);
        Assert.Null(listed[2].Manifest);
        Assert.Contains("manifest.json is missing", listed[2].Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_have_nothing_current_before_the_first_publish()
    {
        // Arrange
        var store = NewStore();

        // Act
        var current = store.ReadCurrent();
        var listed = store.List();
        var error = Assert.Throws<ModelRefusedException>(() => store.Rollback(null));

        // Assert
        Assert.Null(current);
        Assert.Empty(listed);
        Assert.Contains("no model is current", error.Message, StringComparison.Ordinal);
    }
}
