fn main() {
    println!("relcon");
}
