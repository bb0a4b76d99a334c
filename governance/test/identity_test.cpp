#include <gtest/gtest.h>
#include <sys/stat.h>

#include "governance/audit_cli.hpp"
#include "governance/audit_record.hpp"
#include "governance/identity.hpp"
#include "governance/test/audit_test_util.hpp"

namespace sallyport::identity {
namespace {

using audit::testing::TempDir;

TEST(Identity, LoadOrCreatePersistsKeyWith0600) {
  TempDir dir;
  const Identity first = Identity::load_or_create(dir.path());
  struct stat st{};
  ASSERT_EQ(::stat((dir.path() / kSecretKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const Identity again = Identity::load_or_create(dir.path());
  EXPECT_EQ(first.public_key(), again.public_key());
  const auto pub = audit::testing::read_file(dir.path() / kPublicKeyFile);
  EXPECT_EQ(pub, first.public_key().hex() + "\n");
  // No temp files are left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 2);
}

TEST(Identity, KeyIdIsFirst16HexOfSha256OfPublicKey) {
  const Identity id = Identity::generate();
  const auto& pk = id.public_key().bytes();
  const auto digest = audit::sha256(std::string_view(reinterpret_cast<const char*>(pk.data()), pk.size()));
  EXPECT_EQ(id.key_id(), audit::to_hex(digest).substr(0, 16));
  EXPECT_EQ(id.key_id().size(), 16u);
}

TEST(Identity, SignAndVerify) {
  const Identity id = Identity::generate();
  const std::array<std::uint8_t, 3> msg{1, 2, 3};
  const auto sig = id.sign(msg);
  EXPECT_TRUE(id.public_key().verify(msg, sig));
  const std::array<std::uint8_t, 3> other{1, 2, 4};
  EXPECT_FALSE(id.public_key().verify(other, sig));
  EXPECT_FALSE(Identity::generate().public_key().verify(msg, sig));
}

TEST(Identity, RefusesGroupReadableSecretAndGarbage) {
  TempDir dir;
  Identity::load_or_create(dir.path());
  ::chmod((dir.path() / kSecretKeyFile).c_str(), 0644);
  EXPECT_THROW(Identity::load_or_create(dir.path()), std::runtime_error);
  ::chmod((dir.path() / kSecretKeyFile).c_str(), 0600);
  audit::testing::write_file(dir.path() / kSecretKeyFile, "not hex\n");
  std::string error;
  EXPECT_FALSE(Identity::load(dir.path(), error));
  EXPECT_NE(error.find("64 hex"), std::string::npos);
}

TEST(Identity, PublicKeyFromHexOrFile) {
  TempDir dir;
  const Identity id = Identity::load_or_create(dir.path());
  std::string error;
  EXPECT_EQ(PublicKey::from_hex_or_file(id.public_key().hex(), error), id.public_key());
  EXPECT_EQ(PublicKey::from_hex_or_file((dir.path() / kPublicKeyFile).string(), error), id.public_key());
  EXPECT_FALSE(PublicKey::from_hex_or_file("abc", error));
  EXPECT_FALSE(error.empty());
}

TEST(Keygen, RefusesToOverwriteUnlessForced) {
  TempDir dir;
  std::ostringstream out;
  ASSERT_EQ(audit::run_keygen(dir.path().string(), out), 0);
  const auto first = audit::testing::read_file(dir.path() / kPublicKeyFile);
  EXPECT_NE(out.str().find("key_id "), std::string::npos);
  EXPECT_NE(out.str().find(first.substr(0, 64)), std::string::npos);
  std::ostringstream again;
  EXPECT_EQ(audit::run_keygen(dir.path().string(), again), 1);
  EXPECT_EQ(audit::testing::read_file(dir.path() / kPublicKeyFile), first);
  std::ostringstream forced;
  EXPECT_EQ(audit::run_keygen(dir.path().string(), forced, true), 0);
  EXPECT_NE(audit::testing::read_file(dir.path() / kPublicKeyFile), first);
}

}  // namespace
}  // namespace sallyport::identity
