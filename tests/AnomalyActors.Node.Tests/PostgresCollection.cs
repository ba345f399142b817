using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>One PostgreSQL server for every spec of the collection.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
